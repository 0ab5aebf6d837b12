"""Controllers: deployments, rollouts, pod lifecycle, endpoints, GC, quota, statefulsets."""
import time

import pytest
from kubernetes import client, watch

from . import (  # noqa: F401
    READY_DELAY,
    api_client_fixture,
    apps_fixture,
    core_fixture,
    deployment,
    kubesim_fixture,
    namespace_fixture,
    pod_is_ready,
    ready_pods,
    wait_for,
)


def _pod(name, image="nginx:1.25", labels=None, resources=None):
    container = client.V1Container(name="main", image=image, resources=resources)
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name, labels=labels),
                        spec=client.V1PodSpec(containers=[container]))


def _rolled_out(apps, namespace, name, replicas):
    d = apps.read_namespaced_deployment(name, namespace)
    s = d.status
    return (s.observed_generation == d.metadata.generation and s.updated_replicas == replicas
            and s.replicas == replicas and s.available_replicas == replicas)


def test_deployment_pods_become_ready_after_delay(apps, core, namespace):
    rv = core.list_namespaced_pod(namespace).metadata.resource_version
    started = time.monotonic()
    apps.create_namespaced_deployment(namespace, deployment("web", replicas=3))
    wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 3, message="3 ready pods")
    assert time.monotonic() - started >= READY_DELAY
    # Every pod was first seen not ready, then ready, and was bound to a node.
    first_seen = {}
    for event in watch.Watch().stream(core.list_namespaced_pod, namespace, resource_version=rv, timeout_seconds=1):
        first_seen.setdefault(event["object"].metadata.name, pod_is_ready(event["object"]))
    assert len(first_seen) == 3 and not any(first_seen.values())
    pods = ready_pods(core, namespace, "app=web")
    assert all(p.spec.node_name and p.status.pod_ip and p.status.phase == "Running" for p in pods)
    assert all(p.metadata.owner_references[0].kind == "ReplicaSet" for p in pods)
    wait_for(lambda: _rolled_out(apps, namespace, "web", 3), message="deployment status")
    status = apps.read_namespaced_deployment("web", namespace).status
    assert {c.type: c.status for c in status.conditions} == {"Available": "True", "Progressing": "True"}


def test_rolling_update_respects_surge_and_unavailable(apps, core, namespace):
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    apps.create_namespaced_deployment(namespace, deployment("roll", replicas=4, strategy=strategy))
    wait_for(lambda: _rolled_out(apps, namespace, "roll", 4), message="initial rollout")
    listing = core.list_namespaced_pod(namespace, label_selector="app=roll")
    pods = {p.metadata.name: p for p in listing.items}
    apps.patch_namespaced_deployment("roll", namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "image": "nginx:1.26"}]}}}})
    min_ready, max_total = 4, 4
    deadline = time.monotonic() + 15
    for event in watch.Watch().stream(core.list_namespaced_pod, namespace, label_selector="app=roll",
                                      resource_version=listing.metadata.resource_version, timeout_seconds=15):
        pod = event["object"]
        if event["type"] == "DELETED":
            pods.pop(pod.metadata.name, None)
        else:
            pods[pod.metadata.name] = pod
        ready = [p for p in pods.values() if pod_is_ready(p)]
        min_ready = min(min_ready, len(ready))
        max_total = max(max_total, len(pods))
        if len(pods) == 4 and all(pod_is_ready(p) and p.spec.containers[0].image == "nginx:1.26"
                                  for p in pods.values()):
            break
        assert time.monotonic() < deadline, "rollout did not finish"
    else:
        raise AssertionError("watch ended before the rollout finished")
    assert min_ready >= 3, "ready pods dropped below replicas - maxUnavailable"
    assert max_total <= 5, "more pods than replicas + maxSurge"
    wait_for(lambda: _rolled_out(apps, namespace, "roll", 4), message="final status")
    sets = apps.list_namespaced_replica_set(namespace).items
    assert sorted(rs.spec.replicas for rs in sets) == [0, 4]
    assert apps.read_namespaced_deployment("roll", namespace).metadata.annotations[
        "deployment.kubernetes.io/revision"] == "2"


def test_in_place_image_patch_keeps_identity(core, namespace):
    core.create_namespaced_pod(namespace, _pod("solo"))
    before = wait_for(lambda: (p := core.read_namespaced_pod("solo", namespace)) and pod_is_ready(p) and p,
                      message="pod ready")
    core.patch_namespaced_pod("solo", namespace, {"spec": {"containers": [{"name": "main", "image": "nginx:1.26"}]}})
    restarted = wait_for(lambda: (p := core.read_namespaced_pod("solo", namespace))
                         and p.status.container_statuses[0].restart_count == 1 and p, message="restart")
    after = wait_for(lambda: (p := core.read_namespaced_pod("solo", namespace)) and pod_is_ready(p) and p,
                     message="ready again")
    assert restarted.metadata.uid == before.metadata.uid
    assert after.metadata.name == "solo" and after.status.pod_ip == before.status.pod_ip
    assert after.spec.node_name == before.spec.node_name
    status = after.status.container_statuses[0]
    assert status.image == "nginx:1.26" and status.restart_count == 1 and status.ready


def test_crashloop_image_never_ready(core, namespace):
    core.create_namespaced_pod(namespace, _pod("crashy", image="registry.local/app:1.0-crashloop"))

    def crashed_twice():
        pod = core.read_namespaced_pod("crashy", namespace)
        assert not pod_is_ready(pod)
        status = (pod.status.container_statuses or [None])[0]
        return status and status.restart_count >= 2 and status.state.waiting and \
            status.state.waiting.reason == "CrashLoopBackOff" and pod

    pod = wait_for(crashed_twice, message="CrashLoopBackOff with restarts")
    assert pod.status.phase == "Running" and not pod.status.container_statuses[0].ready


def test_endpoints_follow_ready_pods(apps, core, namespace):
    core.create_namespaced_service(namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="ep"),
        spec=client.V1ServiceSpec(selector={"app": "ep"}, ports=[client.V1ServicePort(port=80, target_port="http")])))
    apps.create_namespaced_deployment(namespace, deployment("ep", replicas=2))

    def addresses():
        ep = core.read_namespaced_endpoints("ep", namespace)
        ready = [a.ip for s in ep.subsets or [] for a in s.addresses or []]
        not_ready = [a.ip for s in ep.subsets or [] for a in s.not_ready_addresses or []]
        ports = {p.port for s in ep.subsets or [] for p in s.ports or []}
        return sorted(ready), sorted(not_ready), ports

    def pod_ips():
        return sorted(p.status.pod_ip for p in ready_pods(core, namespace, "app=ep"))

    wait_for(lambda: len(pod_ips()) == 2 and addresses() == (pod_ips(), [], {8080}), message="2 endpoints")
    apps.patch_namespaced_deployment_scale("ep", namespace, {"spec": {"replicas": 1}})
    wait_for(lambda: len(pod_ips()) == 1 and addresses()[0] == pod_ips(), message="1 endpoint")
    # A pod that stops being ready moves to notReadyAddresses.
    name = ready_pods(core, namespace, "app=ep")[0].metadata.name
    ip = core.read_namespaced_pod(name, namespace).status.pod_ip
    core.patch_namespaced_pod(name, namespace, {"spec": {"containers": [{"name": "main", "image": "x:crashloop"}]}})
    wait_for(lambda: addresses()[:2] == ([], [ip]), message="not-ready address")


def test_garbage_collection_of_owned_objects(apps, core, namespace):
    apps.create_namespaced_deployment(namespace, deployment("gc", replicas=2))
    wait_for(lambda: len(core.list_namespaced_pod(namespace, label_selector="app=gc").items) == 2, message="pods")
    apps.delete_namespaced_deployment("gc", namespace)
    wait_for(lambda: not apps.list_namespaced_replica_set(namespace).items
             and not core.list_namespaced_pod(namespace, label_selector="app=gc").items, message="cascade")
    # Orphan propagation leaves dependents without the owner reference.
    apps.create_namespaced_deployment(namespace, deployment("orphan", replicas=1))
    wait_for(lambda: apps.list_namespaced_replica_set(namespace).items, message="replicaset")
    apps.delete_namespaced_deployment("orphan", namespace, propagation_policy="Orphan")
    rs = wait_for(lambda: apps.list_namespaced_replica_set(namespace).items, message="orphaned rs")[0]
    assert not rs.metadata.owner_references
    # Any object owning another by uid: deleting the owner collects the dependent.
    owner = core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner")))
    ref = client.V1OwnerReference(api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid)
    core.create_namespaced_secret(namespace, client.V1Secret(metadata=client.V1ObjectMeta(
        name="dependent", owner_references=[ref])))
    core.delete_namespaced_config_map("owner", namespace)
    wait_for(lambda: not core.list_namespaced_secret(namespace, field_selector="metadata.name=dependent").items,
             message="dependent collected")


def test_resource_quota_rejects_over_quota_pod(core, namespace):
    core.create_namespaced_resource_quota(namespace, client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="compute"),
        spec=client.V1ResourceQuotaSpec(hard={"pods": "2", "requests.cpu": "500m", "requests.memory": "256Mi",
                                              "limits.memory": "1Gi"})))
    small = client.V1ResourceRequirements(requests={"cpu": "200m", "memory": "100Mi"}, limits={"memory": "200Mi"})
    core.create_namespaced_pod(namespace, _pod("q1", resources=small))
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_pod(namespace, _pod("big", resources=client.V1ResourceRequirements(
            requests={"cpu": "400m", "memory": "10Mi"}, limits={"memory": "20Mi"})))
    assert err.value.status == 403 and '"reason":"Forbidden"' in err.value.body
    assert "exceeded quota: compute" in err.value.body and "requests.cpu=400m" in err.value.body
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_pod(namespace, _pod("unbounded"))
    assert err.value.status == 403 and "must specify" in err.value.body
    core.create_namespaced_pod(namespace, _pod("q2", resources=small))
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_pod(namespace, _pod("q3", resources=small))
    assert err.value.status == 403 and "pods=1" in err.value.body

    def used():
        return (core.read_namespaced_resource_quota("compute", namespace).status.used or {})

    wait_for(lambda: used() == {"pods": "2", "requests.cpu": "400m", "requests.memory": "200Mi",
                                "limits.memory": "400Mi"}, message="quota usage")
    core.delete_namespaced_pod("q1", namespace)
    wait_for(lambda: used().get("pods") == "1", message="usage after delete")


def test_statefulset_creates_ordinal_pods_in_order(apps, core, namespace):
    rv = core.list_namespaced_pod(namespace).metadata.resource_version
    apps.create_namespaced_stateful_set(namespace, {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}}})
    wait_for(lambda: (apps.read_namespaced_stateful_set("db", namespace).status.ready_replicas or 0) == 3,
             message="statefulset ready")
    added = [e["object"].metadata.name for e in watch.Watch().stream(
        core.list_namespaced_pod, namespace, resource_version=rv, timeout_seconds=1) if e["type"] == "ADDED"]
    assert added == ["db-0", "db-1", "db-2"]
    assert core.read_namespaced_pod("db-1", namespace).spec.hostname == "db-1"
    apps.patch_namespaced_stateful_set_scale("db", namespace, {"spec": {"replicas": 1}})
    wait_for(lambda: [p.metadata.name for p in core.list_namespaced_pod(namespace).items] == ["db-0"],
             message="scale down from the highest ordinal")


def test_deployment_over_quota_reports_replica_failure(apps, core, namespace):
    core.create_namespaced_resource_quota(namespace, client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="few"), spec=client.V1ResourceQuotaSpec(hard={"pods": "1"})))
    apps.create_namespaced_deployment(namespace, deployment("greedy", replicas=3))

    def failure():
        conditions = apps.read_namespaced_deployment("greedy", namespace).status.conditions or []
        return next((c for c in conditions if c.type == "ReplicaFailure"), None)

    condition = wait_for(failure, message="ReplicaFailure condition")
    assert "exceeded quota" in condition.message
    assert len(core.list_namespaced_pod(namespace).items) == 1


def test_pod_too_big_for_any_node_stays_pending(core, namespace):
    huge = client.V1ResourceRequirements(requests={"cpu": "500"})
    core.create_namespaced_pod(namespace, _pod("huge", resources=huge))

    def unschedulable():
        pod = core.read_namespaced_pod("huge", namespace)
        scheduled = next((c for c in pod.status.conditions or [] if c.type == "PodScheduled"), None)
        return scheduled and scheduled.status == "False" and scheduled.reason == "Unschedulable" and pod

    pod = wait_for(unschedulable, message="Unschedulable condition")
    assert pod.status.phase == "Pending" and not pod.spec.node_name


def test_foreground_deletion_removes_dependents_first(apps, core, namespace):
    apps.create_namespaced_deployment(namespace, deployment("fg", replicas=2))
    wait_for(lambda: len(core.list_namespaced_pod(namespace, label_selector="app=fg").items) == 2, message="pods")
    apps.delete_namespaced_deployment("fg", namespace, propagation_policy="Foreground")
    assert apps.list_namespaced_replica_set(namespace).items == []
    assert core.list_namespaced_pod(namespace, label_selector="app=fg").items == []
