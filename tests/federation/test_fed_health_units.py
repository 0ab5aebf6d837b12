"""Health of member objects and federated resources from realistic status entries and pod
summaries (clusters.federation.health; pure, no database)."""
from django.utils import translation

from clusters.federation import health

QUOTA_MESSAGE = ('pods "web-7d9c-x2" is forbidden: exceeded quota: paas-quota, requested: pods=1, '
                 'used: pods=2, limited: pods=2')


def pod(name="web-1", *, phase="Running", ready=True, waiting=None, restarts=0, message="", scheduled=True,
        last=None, deleting=False, owner=("ReplicaSet", "web-7d9c")):
    container = {"name": "main", "image": "nginx:1.25", "ready": ready, "restartCount": restarts,
                 "state": {"waiting": {"reason": waiting, "message": message}} if waiting else {"running": {}},
                 "lastState": {"terminated": last} if last else {}}
    conditions = [{"type": "Ready", "status": "True" if ready else "False"},
                  {"type": "PodScheduled", "status": "True"}]
    if not scheduled:
        conditions = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                       "message": "0/2 nodes are available: 2 Insufficient cpu."}]
    meta = {"name": name, "ownerReferences": [{"kind": owner[0], "name": owner[1], "controller": True}]}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"phase": phase, "conditions": conditions,
                                         "containerStatuses": [] if not scheduled else [container]}}


def deployment_entry(*, planned=3, ready=3, available=None, updated=None, replicas=None, conditions=(),
                     generation=2, observed=2, state="applied"):
    return {"state": state, "planned": planned, "error": "", "readyReplicas": ready,
            "availableReplicas": ready if available is None else available,
            "updatedReplicas": planned if updated is None else updated,
            "replicas": planned if replicas is None else replicas, "generation": generation,
            "observedGeneration": observed, "conditions": list(conditions)}


def judge(entry, pods=None, kind="Deployment"):
    return health.member_health(entry, pods, kind)


def test_all_replicas_ready_is_healthy():
    pods = health.summarize_pods([pod(f"web-{i}") for i in range(3)])
    result = judge(deployment_entry(), pods)
    assert result["state"] == "healthy" and result["reason"] == "3 of 3 replicas ready"


def test_the_issue_case_applied_with_a_replica_failure_chip_is_degraded_with_the_quota_in_words():
    # Applied, 2 pods running, the third refused by the namespace quota: the row used to say
    # "Applied" with a green ReplicaFailure chip and the reason in a tooltip.
    conditions = [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                  {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": QUOTA_MESSAGE}]
    pods = health.summarize_pods([pod("web-1"), pod("web-2")], health.refusal_of({"status": {"conditions": conditions}}))
    result = judge(deployment_entry(ready=2, replicas=2, conditions=conditions), pods)
    assert result["state"] == "degraded"
    assert result["reason"] == "1 of 3 pods refused by the namespace quota: exceeded quota pods=2"


def test_every_pod_refused_by_the_quota_is_failed():
    pods = health.summarize_pods([], QUOTA_MESSAGE)
    result = judge(deployment_entry(ready=0, replicas=0, available=0, updated=0), pods)
    assert result["state"] == "failed"
    assert result["reason"] == "3 of 3 pods refused by the namespace quota: exceeded quota pods=2"


def test_quota_refusal_from_the_condition_alone_without_a_pod_summary():
    conditions = [{"type": "ReplicaFailure", "status": "True", "message": QUOTA_MESSAGE}]
    result = judge(deployment_entry(ready=0, replicas=0, available=0, updated=0, conditions=conditions))
    assert result["state"] == "failed" and "refused by the namespace quota" in result["reason"]


def test_surge_pods_refused_by_the_quota_stall_the_rollout():
    pods = health.summarize_pods([pod(f"web-{i}") for i in range(3)], QUOTA_MESSAGE)
    result = judge(deployment_entry(updated=0), pods)
    assert result["state"] == "degraded"
    assert result["reason"] == "new pods refused by the namespace quota: exceeded quota pods=2"


def test_crashloop_on_every_replica_is_failed_naming_the_container():
    last = {"reason": "Error", "exitCode": 1, "finishedAt": "2026-01-01T00:00:05Z"}
    pods = health.summarize_pods([pod(f"web-{i}", ready=False, waiting="CrashLoopBackOff", restarts=4, last=last)
                                  for i in range(3)])
    assert pods["waiting"]["CrashLoopBackOff"] == {"pods": 3, "containers": ["main"], "message": ""}
    assert pods["restarts"] == 12 and pods["last_termination"] == {"reason": "Error", "exit_code": 1,
                                                                   "container": "main"}
    result = judge(deployment_entry(ready=0, available=0), pods)
    assert result["state"] == "failed" and result["reason"] == "CrashLoopBackOff in 3 pods (container main)"


def test_crashloop_in_some_replicas_is_degraded():
    pods = health.summarize_pods([pod("web-1"), pod("web-2"), pod("web-3", ready=False, waiting="CrashLoopBackOff")])
    result = judge(deployment_entry(ready=2, available=2), pods)
    assert result["state"] == "degraded" and result["reason"] == "CrashLoopBackOff in 1 pod (container main)"


def test_image_pull_errors_are_failed():
    pods = health.summarize_pods([pod(f"web-{i}", phase="Pending", ready=False, waiting="ImagePullBackOff",
                                      message='Back-off pulling image "nginx:nope"') for i in range(2)])
    result = judge(deployment_entry(planned=2, ready=0, available=0), pods)
    assert result["state"] == "failed" and result["reason"] == "ImagePullBackOff in 2 pods (container main)"


def test_unschedulable_pods_are_failed_with_the_scheduler_message():
    pods = health.summarize_pods([pod("web-1", phase="Pending", ready=False, scheduled=False)])
    result = judge(deployment_entry(planned=1, ready=0, available=0), pods)
    assert result["state"] == "failed"
    assert result["reason"] == "1 pod cannot be scheduled: 0/2 nodes are available: 2 Insufficient cpu."


def test_a_rollout_under_way_is_progressing():
    pods = health.summarize_pods([pod("web-1"), pod("web-2"), pod("web-3", phase="Pending", ready=False,
                                                                  waiting="ContainerCreating")])
    result = judge(deployment_entry(ready=2, updated=1, replicas=3), pods)
    assert result["state"] == "progressing" and result["reason"] == "rolling out: 1 of 3 replicas updated"
    # Generation not observed yet by the cluster's controller.
    result = judge(deployment_entry(generation=3, observed=2), health.summarize_pods([pod()] * 3))
    assert result["state"] == "progressing" and "generation 3" in result["reason"]
    # Every pod updated, new ones still starting.
    starting = health.summarize_pods([pod("web-1"), pod("web-2", phase="Pending", ready=False,
                                                       waiting="ContainerCreating")])
    result = judge(deployment_entry(planned=2, ready=1, available=1), starting)
    assert result["state"] == "progressing" and result["reason"] == "1 of 2 replicas ready, pods starting"


def test_replicas_unavailable_after_the_rollout_are_degraded():
    conditions = [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                   "message": "Deployment does not have minimum availability."},
                  {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]
    pods = health.summarize_pods([pod("web-1"), pod("web-2", ready=False)])
    assert pods["running_not_ready"] == 1
    result = judge(deployment_entry(planned=2, ready=1, available=1, conditions=conditions), pods)
    assert result["state"] == "degraded"
    assert result["reason"] == ("1 of 2 replicas ready; Available is False: "
                                "Deployment does not have minimum availability.")
    deadline = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
    assert judge(deployment_entry(conditions=deadline))["state"] == "degraded"


def test_sync_error_pending_unreachable_and_never_collected():
    error = {"state": "error", "planned": 3, "error": "403 Forbidden: namespaces \"acme-prod\" is forbidden\nmore"}
    result = judge(error)
    assert result["state"] == "failed"
    assert result["reason"] == 'sync error: 403 Forbidden: namespaces "acme-prod" is forbidden'
    assert judge({"state": "pending", "planned": 3})["state"] == "progressing"
    assert judge({"state": "applied", "planned": 3})["state"] == "unknown"  # applied, never collected
    unreachable = health.member_health(deployment_entry(), None, "Deployment", reachable=False)
    assert unreachable["state"] == "unknown" and "cannot be reached" in unreachable["reason"]


def test_kinds_without_replicas_are_healthy_once_applied_and_failed_on_a_sync_error():
    for kind in ("ConfigMap", "Secret", "Service"):
        assert judge({"state": "applied", "planned": None}, kind=kind)["state"] == "healthy"
        assert judge({"state": "error", "planned": None, "error": "422 Invalid"}, kind=kind)["state"] == "failed"
    # A CRD with a replicas path is judged by its counts.
    crd = health.member_health({"state": "applied", "planned": 2, "replicas": 2, "readyReplicas": 0}, None,
                               "Widget", has_replicas=True)
    assert crd["state"] == "progressing"


def test_the_summary_stays_bounded_whatever_the_number_of_pods():
    reasons = ["ErrImagePull", "CrashLoopBackOff", "CreateContainerError", "RunContainerError", "A", "B", "C"]
    pods = [pod(f"web-{i}", ready=False, waiting=reasons[i % len(reasons)], message="x" * 5000)
            for i in range(2000)]
    summary = health.summarize_pods(pods, "y" * 5000)
    assert summary["total"] == 2000 and len(summary["waiting"]) == health.MAX_REASONS
    assert all(len(w["message"]) <= health.MAX_MESSAGE for w in summary["waiting"].values())
    assert len(str(summary)) < 2500
    # Terminating pods are counted apart from the replicas.
    assert health.summarize_pods([pod(deleting=True), pod()])["terminating"] == 1


def test_rollup_takes_the_worst_state_and_names_the_clusters():
    crash = judge(deployment_entry(ready=0, available=0),
                  health.summarize_pods([pod(f"w{i}", ready=False, waiting="CrashLoopBackOff") for i in range(3)]))
    fine = judge(deployment_entry(), health.summarize_pods([pod()] * 3))
    result = health.rollup({"fed-a1": crash, "fed-a2": crash, "fed-b1": fine}, has_replicas=True)
    assert result["state"] == "failed"
    assert result["reason"] == "failed in fed-a1, fed-a2: CrashLoopBackOff in 3 pods (container main)"
    healthy = health.rollup({"fed-a1": fine, "fed-b1": fine}, has_replicas=True,
                            totals={"readyReplicas": 6, "desired": 6})
    assert healthy == {"state": "healthy", "reason": "6 of 6 replicas ready in 2 clusters", "why": healthy["why"]}
    assert health.rollup({}, unplaced=0)["state"] == "unknown"
    assert health.rollup({"fed-a1": fine}, unplaced=2)["state"] == "degraded"
    assert health.rollup({"fed-a1": fine}, deleting=True)["state"] == "progressing"


def test_reasons_are_said_again_in_the_readers_language():
    member = judge({"state": "applied", "planned": None}, kind="ConfigMap")
    assert member["reason"] == "Applied" and member["why"] == {"code": "applied"}
    with translation.override("zh-hans"):
        assert health.reason_text(member) == "已下发"  # from the stored code, not the stored words
    assert health.reason_text({"state": "failed", "reason": "stored words"}) == "stored words"
    assert health.words({"code": "no-such-code"}) == ""
