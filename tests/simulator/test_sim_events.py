"""Events: what the scheduler, kubelets and controllers record, read back as a client would,
plus the recorder's aggregation and retention bounds."""
import re

from kubernetes import client

from clusters.simulator.events import EventRecorder
from clusters.simulator.store import Store

from . import (  # noqa: F401
    api_client_fixture,
    apps_fixture,
    core_fixture,
    deployment,
    kubesim_fixture,
    namespace_fixture,
    ready_pods,
    wait_for,
)


def _events(core, namespace, **selector):
    fields = ",".join(f"involvedObject.{k}={v}" for k, v in selector.items())
    return core.list_namespaced_event(namespace, field_selector=fields or None).items


def _reasons(events):
    return sorted(e.reason for e in events)


def test_healthy_rollout_records_what_kubernetes_records(apps, core, namespace):
    image = f"shop:{namespace}"  # new to every node, so each really pulls it
    apps.create_namespaced_deployment(namespace, deployment("web", image=image, replicas=2))
    pods = wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 2 and ready_pods(core, namespace, "app=web"),
                    message="2 ready pods")
    rs = apps.list_namespaced_replica_set(namespace).items[0]

    scaling = _events(core, namespace, kind="Deployment", name="web")
    assert [(e.type, e.reason, e.message) for e in scaling] == [
        ("Normal", "ScalingReplicaSet", f"Scaled up replica set {rs.metadata.name} from 0 to 2")]
    assert scaling[0].source.component == "deployment-controller" and scaling[0].count == 1
    assert scaling[0].involved_object.api_version == "apps/v1"

    created = _events(core, namespace, kind="ReplicaSet", name=rs.metadata.name)
    assert sorted(e.message for e in created) == sorted(f"Created pod: {p.metadata.name}" for p in pods)
    assert {e.reason for e in created} == {"SuccessfulCreate"}
    assert all(e.involved_object.uid == rs.metadata.uid for e in created)

    for pod in pods:
        events = wait_for(lambda pod=pod: (found := _events(core, namespace, kind="Pod", name=pod.metadata.name,
                                                            uid=pod.metadata.uid))
                          and len(found) == 5 and found, message="5 pod events")
        assert _reasons(events) == ["Created", "Pulled", "Pulling", "Scheduled", "Started"]
        by_reason = {e.reason: e for e in events}
        scheduled = by_reason["Scheduled"]
        assert scheduled.message == f"Successfully assigned {namespace}/{pod.metadata.name} to {pod.spec.node_name}"
        assert scheduled.reporting_component == "default-scheduler" and scheduled.action == "Binding"
        assert scheduled.event_time is not None  # written through events.k8s.io, as the scheduler does
        assert by_reason["Pulling"].message == f'Pulling image "{image}"'
        pulled = r"in \d+\.\d{3}s \(\d+\.\d{3}s including waiting\)\. Image size: \d+ bytes\."
        assert re.fullmatch(f'Successfully pulled image "{image}" {pulled}', by_reason["Pulled"].message)
        assert by_reason["Created"].message == "Created container: main"
        assert by_reason["Started"].message == "Started container main"
        for reason in ("Pulling", "Pulled", "Created", "Started"):
            event = by_reason[reason]
            assert event.type == "Normal" and event.count == 1
            assert (event.source.component, event.source.host) == ("kubelet", pod.spec.node_name)
            assert event.reporting_component == "kubelet"
            assert event.first_timestamp is not None and event.last_timestamp is not None
            ref = event.involved_object
            assert (ref.kind, ref.name, ref.namespace, ref.uid, ref.api_version, ref.field_path) == (
                "Pod", pod.metadata.name, namespace, pod.metadata.uid, "v1", "spec.containers{main}")
            assert ref.resource_version

    apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 1}})
    wait_for(lambda: "SuccessfulDelete" in _reasons(_events(core, namespace, kind="ReplicaSet")),
             message="SuccessfulDelete")
    deleted = next(e for e in _events(core, namespace, kind="ReplicaSet") if e.reason == "SuccessfulDelete")
    victim = deleted.message.removeprefix("Deleted pod: ")
    assert victim in {p.metadata.name for p in pods}
    killing = wait_for(lambda: [e for e in _events(core, namespace, name=victim) if e.reason == "Killing"],
                       message="Killing")
    assert killing[0].message == "Stopping container main"
    assert any(e.message == f"Scaled down replica set {rs.metadata.name} from 2 to 1"
               for e in _events(core, namespace, kind="Deployment", name="web"))


def test_crashloop_back_off_is_one_warning_whose_count_grows(apps, core, namespace):
    apps.create_namespaced_deployment(namespace, deployment("crashy", image="registry.local/app:1.0-crashloop",
                                                            replicas=1))

    def back_off():
        found = [e for e in _events(core, namespace, kind="Pod") if e.reason == "BackOff"]
        return found if found and found[0].count >= 3 else None

    found = wait_for(back_off, timeout=20, message="BackOff counted 3 times")
    assert len(found) == 1, "repeats are aggregated, not duplicated"
    event = found[0]
    pod = core.read_namespaced_pod(event.involved_object.name, namespace)
    assert event.type == "Warning"
    assert event.message == (f"Back-off restarting failed container main in pod "
                             f"{pod.metadata.name}_{namespace}({pod.metadata.uid})")
    assert event.last_timestamp >= event.first_timestamp
    started = next(e for e in _events(core, namespace, name=pod.metadata.name) if e.reason == "Started")
    assert started.count >= 2  # the container really is started again each time


def test_quota_refusal_is_a_failed_create_warning_on_the_replica_set(apps, core, namespace):
    core.create_namespaced_resource_quota(namespace, client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="few"), spec=client.V1ResourceQuotaSpec(hard={"pods": "1"})))
    apps.create_namespaced_deployment(namespace, deployment("greedy", replicas=3))
    failed = wait_for(lambda: [e for e in _events(core, namespace, kind="ReplicaSet") if e.reason == "FailedCreate"],
                      message="FailedCreate")
    event = failed[0]
    assert event.type == "Warning" and event.source.component == "replicaset-controller"
    assert re.fullmatch(r'Error creating: pods "greedy-\w+-\w+" is forbidden: exceeded quota: few, '
                        r"requested: pods=1, used: pods=1, limited: pods=1", event.message), event.message


def test_unpullable_image_reports_err_image_pull(core, namespace):
    core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ghost"},
                                           "spec": {"containers": [{"name": "main", "image": "shop:9-notfound"}]}})

    def failed_twice():
        found = {e.message: e for e in _events(core, namespace, name="ghost") if e.reason == "Failed"}
        return found if len(found) == 3 else None  # pull error, ErrImagePull, ImagePullBackOff

    found = wait_for(failed_twice, message="pull failures")
    assert 'Failed to pull image "shop:9-notfound": rpc error: code = NotFound' in " ".join(found)
    assert {"Error: ErrImagePull", "Error: ImagePullBackOff"} <= set(found)
    assert all(e.type == "Warning" for e in found.values())
    pod = core.read_namespaced_pod("ghost", namespace)
    assert pod.status.phase == "Pending"
    assert pod.status.container_statuses[0].state.waiting.reason in ("ErrImagePull", "ImagePullBackOff")


def test_failing_probes_are_unhealthy_warnings(core, namespace):
    container = {"name": "main", "image": "shop:2-unready", "readinessProbe": {"httpGet": {"path": "/ready",
                                                                                           "port": 8080}}}
    core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sulky"},
                                           "spec": {"containers": [container]}})
    unhealthy = wait_for(lambda: [e for e in _events(core, namespace, name="sulky") if e.reason == "Unhealthy"],
                         message="Unhealthy")
    assert unhealthy[0].type == "Warning"
    assert unhealthy[0].message == "Readiness probe failed: HTTP probe failed with statuscode: 503"
    pod = core.read_namespaced_pod("sulky", namespace)
    assert pod.status.phase == "Running" and not pod.status.container_statuses[0].ready

    live = {"name": "main", "image": "shop:2-crashloop", "ports": [{"containerPort": 9000}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 9000}}}
    core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dying"},
                                           "spec": {"containers": [live]}})
    events = wait_for(lambda: {e.reason: e for e in _events(core, namespace, name="dying")
                               if e.reason in ("Unhealthy", "Killing")} or None, message="liveness failure")
    ip = core.read_namespaced_pod("dying", namespace).status.pod_ip
    assert events["Unhealthy"].message == (f'Liveness probe failed: Get "http://{ip}:9000/healthz": '
                                           f"dial tcp {ip}:9000: connect: connection refused")
    assert events["Killing"].message == "Container main failed liveness probe, will be restarted"


def test_statefulset_pods_are_recorded_on_the_statefulset(apps, core, namespace):
    apps.create_namespaced_stateful_set(namespace, {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}}})
    events = wait_for(lambda: len(found := _events(core, namespace, kind="StatefulSet", name="db")) == 2 and found,
                      message="2 StatefulSet events")
    assert sorted(e.message for e in events) == ["create Pod db-0 in StatefulSet db successful",
                                                 "create Pod db-1 in StatefulSet db successful"]
    assert {e.source.component for e in events} == {"statefulset-controller"}


def test_an_image_already_on_the_node_is_not_pulled_again(core, namespace):
    node = core.list_node().items[0].metadata.name
    for name in ("first", "second"):
        core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                                               "spec": {"nodeName": node, "containers": [
                                                   {"name": "main", "image": f"cache:{namespace}"}]}})
        wait_for(lambda name=name: "Started" in _reasons(_events(core, namespace, name=name)), message="started")
    second = {e.reason: e.message for e in _events(core, namespace, name="second")}
    assert "Pulling" not in second
    assert second["Pulled"] == f'Container image "cache:{namespace}" already present on machine'


def test_field_selectors_on_involved_object(core, namespace):
    core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo"},
                                           "spec": {"containers": [{"name": "main", "image": f"x:{namespace}"}]}})
    wait_for(lambda: len(_events(core, namespace, name="solo")) == 5, message="solo's events")
    assert _events(core, namespace, name="solo", kind="Deployment") == []
    assert len(core.list_namespaced_event(namespace, field_selector="involvedObject.name!=solo").items) == 0
    assert len(core.list_namespaced_event(namespace, field_selector="type=Normal,reason=Started").items) == 1
    assert len(core.list_namespaced_event(namespace, field_selector="source=kubelet").items) == 4
    assert len(core.list_namespaced_event(namespace, field_selector="reportingComponent=default-scheduler").items) == 1
    everywhere = core.list_event_for_all_namespaces(field_selector=f"involvedObject.namespace={namespace}").items
    assert len(everywhere) == 5


# -- the recorder on its own: aggregation and retention -------------------------------------


class _ManualTimers:
    def __init__(self):
        self.due = []

    def call_later(self, delay, fn, *args):
        self.due.append((delay, fn, args))

    def run_now(self):
        ready, self.due = [d for d in self.due if d[0] == 0], [d for d in self.due if d[0] != 0]
        for _, fn, args in ready:
            fn(*args)


def _recorder(**limits):
    store = Store()
    store.put("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
    timers = _ManualTimers()
    return store, timers, EventRecorder(store, timers, **limits)


def _pod(name="web-1"):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "demo", "uid": f"uid-{name}", "resourceVersion": "7"}}


def test_identical_events_bump_count_and_similar_ones_are_combined():
    store, _, recorder = _recorder()
    for _ in range(3):
        recorder.record(_pod(), "Warning", "BackOff", "Back-off restarting failed container", "kubelet", "node-1")
    [event] = [s.obj for s in store.select("events", "demo")]
    assert event["count"] == 3 and event["source"] == {"component": "kubelet", "host": "node-1"}
    for i in range(15):  # a new random pod name in each refusal, as quota errors have
        recorder.record(_pod("rs"), "Warning", "FailedCreate", f'Error creating: pods "rs-{i}" is forbidden',
                        "replicaset-controller")
    failed = [s.obj for s in store.select("events", "demo") if s.obj["reason"] == "FailedCreate"]
    combined = [e for e in failed if e["message"].startswith("(combined from similar events): ")]
    assert len(failed) == 10 and len(combined) == 1
    assert combined[0]["count"] == 6 and combined[0]["message"].endswith('"rs-14" is forbidden')


def test_events_are_bounded_per_namespace_and_expire():
    store, timers, recorder = _recorder(per_namespace=5, ttl=3600)
    for i in range(8):
        recorder.record(_pod(f"p{i}"), "Normal", "Started", "Started container main", "kubelet")
    timers.run_now()
    kept = sorted(s.obj["involvedObject"]["name"] for s in store.select("events", "demo"))
    assert kept == ["p3", "p4", "p5", "p6", "p7"]  # the oldest went first
    recorder.record(_pod("p3"), "Normal", "Started", "Started container main", "kubelet")  # refreshed
    recorder.record(_pod("p8"), "Normal", "Started", "Started container main", "kubelet")
    timers.run_now()
    assert sorted(s.obj["involvedObject"]["name"] for s in store.select("events", "demo")) == [
        "p3", "p5", "p6", "p7", "p8"]
    assert recorder.expire() == 0
    recorder.ttl = 0
    assert recorder.expire() == 5 and store.count("events") == 0


def test_no_events_in_a_namespace_being_deleted():
    store, _, recorder = _recorder()
    ns = store.get("namespaces", "", "demo").thaw()
    ns["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    store.put("namespaces", ns)
    recorder.record(_pod(), "Normal", "Killing", "Stopping container main", "kubelet")
    assert store.count("events") == 0


def test_an_event_storm_does_not_expire_other_kinds_watch_history():
    store = Store(history_size=5)
    store.put("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
    before = store.rv
    store.put("pods", _pod())
    recorder = EventRecorder(store, _ManualTimers())
    for i in range(20):
        recorder.record(_pod(), "Normal", "Pulled", f"message {i}", "kubelet")
    assert [e.type for e in store.events_since("pods", before)] == ["ADDED"]


def test_client_created_events_are_bounded_too(kubesim, core, namespace):
    recorder = kubesim.server.cluster("sim-a").manager.events

    async def set_limit(value):
        previous, recorder.per_namespace = recorder.per_namespace, value
        return previous

    previous = kubesim.call(set_limit(3))
    try:
        for i in range(6):
            core.create_namespaced_event(namespace, {
                "apiVersion": "v1", "kind": "Event", "metadata": {"name": f"custom.{i}"},
                "involvedObject": {"kind": "ConfigMap", "name": "cfg", "namespace": namespace},
                "reason": "Custom", "message": f"number {i}", "type": "Normal"})
        wait_for(lambda: len(core.list_namespaced_event(namespace).items) == 3, message="3 events kept")
        assert [e.metadata.name for e in core.list_namespaced_event(namespace).items] == [
            "custom.3", "custom.4", "custom.5"]
    finally:
        kubesim.call(set_limit(previous))
