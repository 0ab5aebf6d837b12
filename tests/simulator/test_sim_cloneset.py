"""OpenKruise CloneSet in the simulator, through the official client's CustomObjectsApi:
in-place update (identity kept, container restarted, InPlaceUpdateReady and endpoints
toggling), recreate for other changes, partition, maxUnavailable, paused, Kruise's status
and ControllerRevisions, and the lifecycle hooks the release engine drives."""
import json

import pytest
from kubernetes import client, watch

from . import api_client_fixture, core_fixture, kubesim_fixture, namespace_fixture, wait_for  # noqa: F401

GROUP, VERSION, PLURAL = "apps.kruise.io", "v1alpha1", "clonesets"
STATE = "lifecycle.apps.kruise.io/state"
HOOK = "paas.io/traffic-hook"


@pytest.fixture(name="objects", scope="module")
def objects_fixture(api_client):
    return client.CustomObjectsApi(api_client)


def cloneset(name, replicas=3, image="nginx:1.25", partition=0, max_unavailable="100%", strategy="InPlaceIfPossible",
             hooked=False, **extra):
    labels = {"app": name}
    if hooked:
        labels[HOOK] = "true"
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [main(image)]}},
            "updateStrategy": {"type": strategy, "partition": partition, "maxUnavailable": max_unavailable,
                               "maxSurge": 0}}
    if hooked:
        handler = {"labelsHandler": {HOOK: "true"}}
        spec["lifecycle"] = {"inPlaceUpdate": handler, "preDelete": handler}
    spec.update(extra)
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "CloneSet", "metadata": {"name": name}, "spec": spec}


def main(image, **extra):
    """The template's container (merge patches replace lists whole: keep everything but the image)."""
    return {"name": "main", "image": image, "ports": [{"containerPort": 8080, "name": "http"}], **extra}


def get(objects, namespace, name):
    return objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)


def patch(objects, namespace, name, spec):
    return objects.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, {"spec": spec})


def pods_of(core, namespace, name):
    return {p.metadata.name: p for p in core.list_namespaced_pod(namespace, label_selector=f"app={name}").items}


def cond(pod, type_):
    return next((c.status for c in pod.status.conditions or () if c.type == type_), None)


def settled(objects, namespace, name, updated=None):
    """Status observed the latest spec, every pod ready, ``updated`` of them on the new revision."""
    cs = get(objects, namespace, name)
    s = cs.get("status") or {}
    replicas = cs["spec"]["replicas"]
    return (s.get("observedGeneration") == cs["metadata"]["generation"] and s.get("replicas") == replicas
            and s.get("readyReplicas") == replicas and s.get("availableReplicas") == replicas
            and s.get("updatedReplicas") == (replicas if updated is None else updated)
            and s.get("updatedReadyReplicas") == (replicas if updated is None else updated)) and s


def create(objects, core, namespace, body):
    objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    name = body["metadata"]["name"]
    return wait_for(lambda: settled(objects, namespace, name), message=f"{name} ready")


def test_in_place_update_keeps_identity_and_restarts_the_container(objects, core, namespace):
    core.create_namespaced_service(namespace, {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}})
    first = create(objects, core, namespace, cloneset("web", replicas=2))
    before = pods_of(core, namespace, "web")
    pod = next(iter(before.values()))
    assert pod.metadata.labels["controller-revision-hash"] == first["updateRevision"]
    assert first["updateRevision"].startswith("web-")
    assert pod.metadata.labels["pod-template-hash"] == first["updateRevision"].rsplit("-", 1)[1]
    assert pod.metadata.name == "web-" + pod.metadata.labels["apps.kruise.io/cloneset-instance-id"]
    assert [g.condition_type for g in pod.spec.readiness_gates] == ["InPlaceUpdateReady"]
    assert pod.metadata.owner_references[0].kind == "CloneSet" and pod.metadata.labels[STATE] == "Normal"
    pod_rv = core.list_namespaced_pod(namespace).metadata.resource_version
    ep_rv = core.list_namespaced_endpoints(namespace).metadata.resource_version

    patch(objects, namespace, "web", {"template": {"metadata": {"labels": {"app": "web", "release": "r2"}},
                                                   "spec": {"containers": [main("nginx:1.26")]}}})
    status = wait_for(lambda: settled(objects, namespace, "web"), message="in-place update done")
    assert status["currentRevision"] == status["updateRevision"] != first["updateRevision"]
    after = pods_of(core, namespace, "web")
    assert set(after) == set(before)
    for name, old in before.items():
        new = after[name]
        assert (new.metadata.uid, new.status.pod_ip, new.spec.node_name) == (
            old.metadata.uid, old.status.pod_ip, old.spec.node_name)
        assert new.spec.containers[0].image == "nginx:1.26" and new.metadata.labels["release"] == "r2"
        container = new.status.container_statuses[0]
        assert container.restart_count == 1 and container.image_id != old.status.container_statuses[0].image_id
        assert container.state.running.started_at >= old.status.container_statuses[0].state.running.started_at
        assert new.metadata.labels["controller-revision-hash"] == status["updateRevision"]
        state = json.loads(new.metadata.annotations["apps.kruise.io/inplace-update-state"])
        assert state["revision"] == status["updateRevision"] and state["lastContainerStatuses"]["main"]["imageID"]
        assert cond(new, "InPlaceUpdateReady") == "True" and cond(new, "Ready") == "True"

    # Replay what watchers saw: the gate went False (taking Ready with it) and back to True,
    # and each pod's IP left the Service's ready addresses and came back.
    seen = {}
    for event in watch.Watch().stream(core.list_namespaced_pod, namespace, resource_version=pod_rv, timeout_seconds=1):
        p = event["object"]
        seen.setdefault(p.metadata.name, []).append((cond(p, "InPlaceUpdateReady"), cond(p, "Ready")))
    for name in before:
        assert ("False", "False") in seen[name] and seen[name][-1] == ("True", "True")
    ready_sets = []
    for event in watch.Watch().stream(core.list_namespaced_endpoints, namespace, resource_version=ep_rv,
                                      timeout_seconds=1):
        if event["object"].metadata.name == "web":
            subsets = event["object"].subsets or []
            ready_sets.append({a.ip for s in subsets for a in s.addresses or ()})
    ips = {p.status.pod_ip for p in before.values()}
    for ip in ips:
        assert any(ip not in r for r in ready_sets), f"{ip} never left the endpoints"
    assert ready_sets[-1] == ips


def test_other_template_changes_recreate_pods(objects, core, namespace):
    create(objects, core, namespace, cloneset("rc", replicas=2))
    before = set(pods_of(core, namespace, "rc"))
    patch(objects, namespace, "rc", {"template": {"spec": {"containers": [
        main("nginx:1.25", env=[{"name": "MODE", "value": "x"}])]}}})
    wait_for(lambda: settled(objects, namespace, "rc") and not before & set(pods_of(core, namespace, "rc")),
             message="pods recreated")
    pods = pods_of(core, namespace, "rc").values()
    assert all(p.status.container_statuses[0].restart_count == 0 for p in pods)
    assert all(p.spec.containers[0].env[0].value == "x" for p in pods)


def test_in_place_only_refuses_to_recreate(objects, core, namespace):
    create(objects, core, namespace, cloneset("only", replicas=1, strategy="InPlaceOnly"))
    patch(objects, namespace, "only", {"template": {"spec": {"containers": [
        main("nginx:1.25", args=["--x"])]}}})
    failed = wait_for(lambda: {c["type"]: c for c in get(objects, namespace, "only")["status"].get("conditions") or ()}
                      .get("FailedUpdate"), message="FailedUpdate condition")
    assert "InPlaceOnly" in failed["message"]
    assert len(pods_of(core, namespace, "only")) == 1


@pytest.mark.parametrize("partition,updated", [(2, 3), ("50%", 2), ("99%", 1)])
def test_partition_keeps_old_pods(objects, core, namespace, partition, updated):
    create(objects, core, namespace, cloneset("part", replicas=5, partition=partition))
    patch(objects, namespace, "part", {"template": {"spec": {"containers": [main("nginx:1.26")]}}})
    status = wait_for(lambda: settled(objects, namespace, "part", updated=updated), message=f"{updated} updated")
    assert status["expectedUpdatedReplicas"] == updated and status["currentRevision"] != status["updateRevision"]
    images = sorted(p.spec.containers[0].image for p in pods_of(core, namespace, "part").values())
    assert images.count("nginx:1.26") == updated
    patch(objects, namespace, "part", {"updateStrategy": {"partition": 0}})
    status = wait_for(lambda: settled(objects, namespace, "part"), message="all updated")
    assert status["currentRevision"] == status["updateRevision"] and status["expectedUpdatedReplicas"] == 5


def test_max_unavailable_caps_pods_updating_at_once(objects, core, namespace):
    create(objects, core, namespace, cloneset("mu", replicas=4, max_unavailable=1))
    rv = core.list_namespaced_pod(namespace).metadata.resource_version
    patch(objects, namespace, "mu", {"template": {"spec": {"containers": [main("nginx:1.26")]}}})
    wait_for(lambda: settled(objects, namespace, "mu"), timeout=20, message="rolled out")
    not_ready = {}
    most = 0
    for event in watch.Watch().stream(core.list_namespaced_pod, namespace, resource_version=rv, timeout_seconds=1):
        p = event["object"]
        not_ready[p.metadata.name] = cond(p, "Ready") != "True"
        most = max(most, sum(not_ready.values()))
    assert most == 1


def test_paused_stops_updates_and_resumes(objects, core, namespace):
    create(objects, core, namespace, cloneset("pz", replicas=2))
    patch(objects, namespace, "pz", {"updateStrategy": {"paused": True},
                                     "template": {"spec": {"containers": [main("nginx:1.26")]}}})
    status = wait_for(lambda: settled(objects, namespace, "pz", updated=0), message="paused status")
    assert status["updateRevision"] != status["currentRevision"]
    assert {p.spec.containers[0].image for p in pods_of(core, namespace, "pz").values()} == {"nginx:1.25"}
    patch(objects, namespace, "pz", {"updateStrategy": {"paused": False}})
    wait_for(lambda: settled(objects, namespace, "pz"), message="resumed")


def test_scale_revisions_and_rollback(objects, core, namespace, api_client):
    first = create(objects, core, namespace, cloneset("sc", replicas=1))
    assert first["labelSelector"] == "app=sc" and first["collisionCount"] == 0
    patch(objects, namespace, "sc", {"replicas": 3})
    wait_for(lambda: settled(objects, namespace, "sc"), message="scaled up")
    patch(objects, namespace, "sc", {"template": {"spec": {"containers": [main("nginx:1.26")]}}})
    second = wait_for(lambda: settled(objects, namespace, "sc"), message="updated")
    patch(objects, namespace, "sc", {"replicas": 2})
    wait_for(lambda: len(pods_of(core, namespace, "sc")) == 2 and settled(objects, namespace, "sc"), message="down")
    apps = client.AppsV1Api(api_client)
    revisions = {r.metadata.name: r.revision for r in apps.list_namespaced_controller_revision(namespace).items}
    assert revisions == {first["updateRevision"]: 1, second["updateRevision"]: 2}
    # Back to the first template: the old revision is reused and re-numbered, as Kruise does.
    patch(objects, namespace, "sc", {"template": {"spec": {"containers": [main("nginx:1.25")]}}})
    third = wait_for(lambda: settled(objects, namespace, "sc"), message="rolled back")
    assert third["updateRevision"] == first["updateRevision"]
    revisions = {r.metadata.name: r.revision for r in apps.list_namespaced_controller_revision(namespace).items}
    assert revisions == {first["updateRevision"]: 3, second["updateRevision"]: 2}
    assert all(p.status.container_statuses[0].restart_count == 2 for p in pods_of(core, namespace, "sc").values())


def test_in_place_lifecycle_hook_states(objects, core, namespace):
    """The engine's loop: PreparingUpdate holds until the hook label is released; then
    Updating -> Updated (the pod ready on the new revision); Normal once the label is back."""
    create(objects, core, namespace, cloneset("hk", replicas=2, partition=2, hooked=True))
    patch(objects, namespace, "hk", {"template": {"spec": {"containers": [main("nginx:1.26")]}}})
    wait_for(lambda: get(objects, namespace, "hk")["status"]["observedGeneration"] == 2, message="observed")
    patch(objects, namespace, "hk", {"updateStrategy": {"partition": 1}})
    parked = wait_for(lambda: [p for p in pods_of(core, namespace, "hk").values()
                               if p.metadata.labels[STATE] == "PreparingUpdate"], message="PreparingUpdate")
    assert len(parked) == 1
    name = parked[0].metadata.name
    assert parked[0].spec.containers[0].image == "nginx:1.25" and cond(parked[0], "Ready") == "True"
    wait_for(lambda: get(objects, namespace, "hk")["status"]["availableReplicas"] == 1, message="not available")
    pod = core.read_namespaced_pod(name, namespace)
    assert pod.metadata.labels[STATE] == "PreparingUpdate" and pod.spec.containers[0].image == "nginx:1.25"

    core.patch_namespaced_pod(name, namespace, {"metadata": {"labels": {HOOK: "false"}}})
    updated = wait_for(lambda: (p := core.read_namespaced_pod(name, namespace)).metadata.labels[STATE] == "Updated"
                       and cond(p, "Ready") == "True" and p, message="Updated and ready")
    assert updated.spec.containers[0].image == "nginx:1.26" and updated.metadata.labels[HOOK] == "false"
    assert updated.status.container_statuses[0].restart_count == 1
    status = get(objects, namespace, "hk")["status"]
    assert status["updatedReadyReplicas"] == 1 and status["availableReplicas"] == 1  # Updated is not available yet

    core.patch_namespaced_pod(name, namespace, {"metadata": {"labels": {HOOK: "true"}}})
    wait_for(lambda: core.read_namespaced_pod(name, namespace).metadata.labels[STATE] == "Normal", message="Normal")
    wait_for(lambda: settled(objects, namespace, "hk", updated=1), message="available again")
    other = next(p for n, p in pods_of(core, namespace, "hk").items() if n != name)
    assert other.metadata.labels[STATE] == "Normal" and other.spec.containers[0].image == "nginx:1.25"


def test_pre_delete_hook_holds_scale_down(objects, core, namespace):
    create(objects, core, namespace, cloneset("pd", replicas=2, hooked=True))
    patch(objects, namespace, "pd", {"replicas": 1})
    doomed = wait_for(lambda: [p for p in pods_of(core, namespace, "pd").values()
                               if p.metadata.labels[STATE] == "PreparingDelete"], message="PreparingDelete")
    assert len(doomed) == 1 and len(pods_of(core, namespace, "pd")) == 2
    name = doomed[0].metadata.name
    core.patch_namespaced_pod(name, namespace, {"metadata": {"labels": {HOOK: "false"}}})
    wait_for(lambda: list(pods_of(core, namespace, "pd")) == [n for n in pods_of(core, namespace, "pd") if n != name]
             and len(pods_of(core, namespace, "pd")) == 1, message="deleted after release")


def test_bad_images_in_place(objects, core, namespace):
    create(objects, core, namespace, cloneset("bad", replicas=2, max_unavailable=2))
    before = pods_of(core, namespace, "bad")
    patch(objects, namespace, "bad", {"template": {"spec": {"containers": [main("nginx:crashloop-1")]}}})
    wait_for(lambda: all(p.status.container_statuses[0].restart_count >= 2 for p in pods_of(core, namespace, "bad").values()),
             message="crash looping")
    pods = pods_of(core, namespace, "bad")
    assert set(pods) == set(before) and not any(cond(p, "Ready") == "True" for p in pods.values())
    status = get(objects, namespace, "bad")["status"]
    assert status["updatedReplicas"] == 2 and status["readyReplicas"] == 0
    patch(objects, namespace, "bad", {"template": {"spec": {"containers": [main("nginx:unpullable")]}}})
    waiting = wait_for(lambda: [p for p in pods_of(core, namespace, "bad").values()
                                if (p.status.container_statuses[0].state.waiting or client.V1ContainerStateWaiting()).reason
                                in ("ErrImagePull", "ImagePullBackOff")], message="pull failures")
    assert len(waiting) == 2
    assert all(p.metadata.labels[STATE] == "Updating" and cond(p, "InPlaceUpdateReady") == "False" for p in waiting)


def test_webhook_defaults_and_validation(objects, namespace):
    made = objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "CloneSet", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {
            "metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "m", "image": "nginx"}]}}}})
    assert made["spec"]["replicas"] == 1 and made["spec"]["updateStrategy"] == {
        "type": "ReCreate", "partition": 0, "maxUnavailable": "20%", "maxSurge": 0}
    for bad in ({"updateStrategy": {"type": "Rolling"}}, {"updateStrategy": {"partition": "x%"}},
                {"updateStrategy": {"maxUnavailable": 0, "maxSurge": 0}}, {"replicas": -1}):
        with pytest.raises(client.ApiException) as err:
            patch(objects, namespace, "d", bad)
        assert err.value.status == 422
