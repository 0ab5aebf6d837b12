"""Pod logs through the official client: options as the kubelet honours them, and follow."""
import datetime
import json
import re

import pytest
from kubernetes import client

from . import (  # noqa: F401
    api_client_fixture,
    apps_fixture,
    core_fixture,
    kubesim_fixture,
    namespace_fixture,
    pod_is_ready,
    wait_for,
)

STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z) (.*)")


def _pod(core, namespace, name, *containers):
    spec = {"containers": [{"name": n, "image": image} for n, image in containers]}
    core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
    return wait_for(lambda: pod_is_ready(p := core.read_namespaced_pod(name, namespace)) and p, message="ready pod")


def _log(core, namespace, name, **options):
    return core.read_namespaced_pod_log(name, namespace, **options)


def _refused(call) -> str:
    with pytest.raises(client.ApiException) as err:
        call()
    assert err.value.status == 400, err.value.body
    return json.loads(err.value.body)["message"]


def _parse(stamp: str) -> datetime.datetime:
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    parsed = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.UTC)
    return parsed + datetime.timedelta(microseconds=int((fraction or "0").ljust(6, "0")[:6]))


def test_log_is_plausible_and_the_same_every_time(core, namespace):
    _pod(core, namespace, "api", ("main", "registry.local/shop:2.1"))
    wait_for(lambda: len(_log(core, namespace, "api").splitlines()) >= 8, message="request lines")
    first = _log(core, namespace, "api")
    lines = first.splitlines()
    assert lines[0].endswith("INFO  starting shop version=2.1 pid=1")
    assert any("listening on :8080" in line for line in lines[:5])
    assert all(re.search(r" request method=\w+ path=\S+ status=\d{3} duration=\d+ms", line) for line in lines[4:])
    assert _log(core, namespace, "api").startswith(first), "lines already printed never change"


def test_container_choice_is_required_and_checked(core, namespace):
    _pod(core, namespace, "two", ("main", "shop:1.0"), ("side", "nginx:1.25"))
    assert "a container name must be specified for pod two, choose one of: [main side]" in _refused(
        lambda: _log(core, namespace, "two"))
    assert "container nope is not valid for pod two, choose one of: [main side]" in _refused(
        lambda: _log(core, namespace, "two", container="nope"))
    side = wait_for(lambda: (text := _log(core, namespace, "two", container="side")).count("HTTP/1.1") >= 2 and text,
                    message="side's access log")
    assert "[notice] 1#1: nginx/1.25" in side
    assert re.search(r'^10\.244\.\d+\.\d+ - - \[[^]]+\] "\w+ \S+ HTTP/1\.1" \d{3} \d+ ', side, re.M)
    assert "starting shop" in _log(core, namespace, "two", container="main")


def test_tail_since_timestamps_and_limit_bytes(core, namespace):
    _pod(core, namespace, "busy", ("main", "shop:3.0"))
    wait_for(lambda: len(_log(core, namespace, "busy").splitlines()) >= 12, message="a dozen lines")
    tail = _log(core, namespace, "busy", tail_lines=5, timestamps=True).splitlines()
    assert len(tail) == 5
    stamps = [STAMP.fullmatch(line) for line in tail]
    assert all(stamps), tail
    later = _log(core, namespace, "busy")
    assert "\n".join(m.group(2) for m in stamps) + "\n" in later  # the same lines, in order, without stamps
    times = [_parse(m.group(1)) for m in stamps]
    assert times == sorted(times)
    assert _log(core, namespace, "busy", tail_lines=0) == ""

    since = _log(core, namespace, "busy", since_seconds=1, timestamps=True).splitlines()
    now = datetime.datetime.now(datetime.UTC)
    assert since and all(now - _parse(STAMP.fullmatch(line).group(1)) <= datetime.timedelta(seconds=1.5)
                         for line in since)
    assert len(since) < len(_log(core, namespace, "busy").splitlines())

    limited = core.read_namespaced_pod_log("busy", namespace, limit_bytes=100, _preload_content=False).data
    assert len(limited) == 100 and _log(core, namespace, "busy").encode().startswith(limited)


def test_previous_and_waiting_containers(core, apps, namespace):
    _pod(core, namespace, "fresh", ("main", "shop:1.0"))
    assert 'previous terminated container "main" in pod "fresh" not found' in _refused(
        lambda: _log(core, namespace, "fresh", previous=True))
    core.patch_namespaced_pod("fresh", namespace, {"spec": {"containers": [{"name": "main", "image": "shop:1.1"}]}})
    wait_for(lambda: (s := core.read_namespaced_pod("fresh", namespace).status.container_statuses[0]).restart_count == 1
             and s.ready, message="restarted in place")
    previous = _log(core, namespace, "fresh", previous=True, timestamps=True).splitlines()
    current = _log(core, namespace, "fresh", timestamps=True).splitlines()
    assert "starting shop" in previous[0] and "starting shop" in current[0]
    ended = _parse(STAMP.fullmatch(previous[-1]).group(1))
    assert ended <= _parse(STAMP.fullmatch(current[0]).group(1)) + datetime.timedelta(seconds=1)

    core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crashy"},
                                           "spec": {"containers": [{"name": "main", "image": "shop:1-crashloop"}]}})
    wait_for(lambda: core.read_namespaced_pod("crashy", namespace).status.container_statuses[0].restart_count >= 2,
             message="restarts")
    crashed = _log(core, namespace, "crashy")
    assert "Traceback (most recent call last):" in crashed
    assert crashed.rstrip().endswith("ConnectionError: could not connect to postgres://db:5432/app: connection refused")
    assert "Traceback" in _log(core, namespace, "crashy", previous=True)

    core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ghost"},
                                           "spec": {"containers": [{"name": "main", "image": "shop:1-unpullable"}]}})
    wait_for(lambda: (core.read_namespaced_pod("ghost", namespace).status.container_statuses or [None])[0]
             and core.read_namespaced_pod("ghost", namespace).status.container_statuses[0].state.waiting.reason
             != "ContainerCreating", message="pull failed")
    assert 'container "main" in pod "ghost" is waiting to start: trying and failing to pull image' in _refused(
        lambda: _log(core, namespace, "ghost"))


def test_bad_options_are_refused(core, namespace):
    _pod(core, namespace, "opts", ("main", "shop:1.0"))
    for options in ({"tail_lines": -1}, {"since_seconds": 0}, {"limit_bytes": 0}):
        with pytest.raises(client.ApiException) as err:
            _log(core, namespace, "opts", **options)
        assert err.value.status == 422, options


def test_follow_streams_new_lines_until_the_pod_is_deleted(core, namespace):
    _pod(core, namespace, "live", ("main", "shop:4.0"))
    stream = core.read_namespaced_pod_log("live", namespace, follow=True, tail_lines=1, timestamps=True,
                                          _preload_content=False, _request_timeout=30)
    received = b""
    chunks = stream.stream(256, decode_content=False)
    while received.count(b"\n") < 4:
        received += next(chunks)
    stamps = [_parse(STAMP.fullmatch(line).group(1)) for line in received.decode().splitlines()[:4]]
    assert stamps == sorted(stamps) and stamps[-1] > stamps[0], "new lines arrived over time"
    core.delete_namespaced_pod("live", namespace)
    for _ in chunks:  # ends (instead of hanging until the timeout) once the pod is gone
        pass
    stream.release_conn()
