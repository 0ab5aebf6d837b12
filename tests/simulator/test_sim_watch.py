"""Watch semantics through kubernetes.watch.Watch and raw streams."""
import json
import threading
import time

import pytest
from kubernetes import client, watch

from . import admin, api_client_fixture, apps_fixture, core_fixture, kubesim_fixture, namespace_fixture  # noqa: F401


def _cm(name, labels=None, **data):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data or None)


def _events(core, namespace, **kwargs):
    kwargs.setdefault("timeout_seconds", 1)
    return [(e["type"], e["object"].metadata.name, e["object"].metadata.resource_version)
            for e in watch.Watch().stream(core.list_namespaced_config_map, namespace, **kwargs)]


def test_events_in_order_from_resource_version(core, namespace):
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, _cm("a"))
    core.patch_namespaced_config_map("a", namespace, {"data": {"k": "v"}})
    core.create_namespaced_config_map(namespace, _cm("b"))
    core.delete_namespaced_config_map("a", namespace)
    events = _events(core, namespace, resource_version=start)
    assert [(t, n) for t, n, _ in events] == [("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    rvs = [int(rv) for _, _, rv in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 4


def test_resume_from_middle(core, namespace):
    start = core.list_namespaced_config_map(namespace).metadata.resource_version
    first = core.create_namespaced_config_map(namespace, _cm("one"))
    core.create_namespaced_config_map(namespace, _cm("two"))
    events = _events(core, namespace, resource_version=first.metadata.resource_version)
    assert [(t, n) for t, n, _ in events] == [("ADDED", "two")]
    assert len(_events(core, namespace, resource_version=start)) == 2


def test_initial_state_without_resource_version(core, namespace):
    core.create_namespaced_config_map(namespace, _cm("existing"))
    events = _events(core, namespace)
    assert [(t, n) for t, n, _ in events] == [("ADDED", "existing")]


def test_live_events_arrive_while_watching(core, namespace):
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    # Create from another thread while this one is blocked reading the open stream.
    creator = threading.Timer(0.3, core.create_namespaced_config_map, (namespace, _cm("live")))
    creator.start()
    try:
        for event in watch.Watch().stream(core.list_namespaced_config_map, namespace, resource_version=rv,
                                          timeout_seconds=5):
            assert event["type"] == "ADDED" and event["object"].metadata.name == "live"
            break
        else:
            raise AssertionError("no event")
    finally:
        creator.join()


def test_too_old_resource_version_is_410(core, namespace, kubesim):
    old = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, _cm("after"))
    admin(kubesim, "POST", "/clusters/sim-a/compact")
    with pytest.raises(client.ApiException) as err:
        _events(core, namespace, resource_version=old)
    assert err.value.status == 410
    # The raw stream carries the Status as an ERROR event, like a real API server.
    response = core.list_namespaced_config_map(namespace, watch=True, resource_version=old, timeout_seconds=1,
                                               _preload_content=False)
    event = json.loads(response.read().splitlines()[0])
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"


def test_label_selector_transitions(core, namespace):
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, _cm("m", labels={"team": "red"}))
    core.patch_namespaced_config_map("m", namespace, {"metadata": {"labels": {"team": "blue"}}})
    core.patch_namespaced_config_map("m", namespace, {"metadata": {"labels": {"team": "red"}}})
    events = _events(core, namespace, resource_version=rv, label_selector="team=red")
    assert [t for t, _, _ in events] == ["ADDED", "DELETED", "ADDED"]


def test_timeout_seconds_is_honoured(core, namespace):
    started = time.monotonic()
    assert _events(core, namespace, resource_version="0", timeout_seconds=1) == []
    assert 0.9 <= time.monotonic() - started < 4


def test_bookmarks_accepted(core, namespace):
    response = core.list_namespaced_config_map(namespace, watch=True, allow_watch_bookmarks=True,
                                               send_initial_events=True, resource_version_match="NotOlderThan",
                                               timeout_seconds=1, _preload_content=False)
    lines = [json.loads(line) for line in response.read().splitlines() if line]
    assert lines[-1]["type"] == "BOOKMARK"
    assert lines[-1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_watch_pods_all_namespaces_with_field_selector(core, namespace):
    rv = core.list_pod_for_all_namespaces().metadata.resource_version
    core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name="solo"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36")])))
    seen = set()
    for event in watch.Watch().stream(core.list_pod_for_all_namespaces, resource_version=rv, timeout_seconds=2,
                                      field_selector=f"metadata.namespace={namespace}"):
        seen.add(event["object"].metadata.name)
        if event["object"].status.phase == "Running":
            break
    assert seen == {"solo"}
