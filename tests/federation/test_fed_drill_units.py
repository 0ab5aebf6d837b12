"""Drill-down pieces without a cluster: selectors as the API's query, what a pod's row
says, the bounded follow (its time limit, its end, its slots per user), the follow URL's
permissions."""
import asyncio
import threading
from types import SimpleNamespace

import pytest

from clusters.federation import drilldown


def test_selector_string_speaks_the_label_selector_query():
    selector = {"matchLabels": {"app": "web", "tier": "a"},
                "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable", "canary"]},
                                     {"key": "legacy", "operator": "DoesNotExist"},
                                     {"key": "zone", "operator": "NotIn", "values": ["x"]},
                                     {"key": "gpu", "operator": "Exists"}]}
    assert drilldown.selector_string(selector) == \
        "app=web,tier=a,track in (stable,canary),!legacy,zone notin (x),gpu"
    assert drilldown.selector_string(None) == ""


def test_pod_row_says_why_a_pod_is_not_running():
    crashing = {"metadata": {"name": "web-1", "creationTimestamp": "2026-01-01T10:00:00Z"},
                "spec": {"nodeName": "n1", "containers": [{"name": "main", "image": "busybox:crashloop"},
                                                          {"name": "side", "image": "envoy:1"}]},
                "status": {"phase": "Running", "podIP": "10.0.0.7", "containerStatuses": [
                    {"name": "main", "ready": False, "restartCount": 4,
                     "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}},
                    {"name": "side", "ready": True, "restartCount": 1, "state": {"running": {}}}]}}
    row = drilldown.pod_row(crashing)
    assert (row["reason"], row["message"], row["ready"], row["containers_total"], row["restarts"]) == \
        ("CrashLoopBackOff", "back-off 40s", 1, 2, 5)
    assert row["images"] == ["busybox:crashloop", "envoy:1"] and row["node"] == "n1"
    pending = {"metadata": {"name": "web-2"}, "spec": {"containers": [{"name": "main", "image": "x"}]},
               "status": {"phase": "Pending", "conditions": [
                   {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": "0/2 nodes are available: 2 Insufficient cpu."}]}}
    row = drilldown.pod_row(pending)
    assert row["reason"] == "Unschedulable" and "Insufficient cpu" in row["message"] and row["node"] == ""
    done = {"metadata": {"name": "job"}, "spec": {"containers": [{"name": "c"}]}, "status": {
        "phase": "Succeeded", "containerStatuses": [{"state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}}
    assert drilldown.pod_row(done)["reason"] == ""


def test_log_query_bounds():
    query = drilldown.log_query({"pod": "web-1", "tailLines": "5000", "timestamps": "true"})
    assert query.params() == {"timestamps": True, "tail_lines": 5000}
    assert drilldown.log_query({"pod": "web-1"}).tail_lines == drilldown.DEFAULT_TAIL
    for bad in ({"pod": "web-1", "tailLines": "5001"}, {"pod": "Web_1"}, {"pod": "web-1", "sinceSeconds": "0"},
                {"pod": "web-1", "container": "x" * 64}, {"pod": "a" * 254}):
        with pytest.raises(drilldown.DomainError):
            drilldown.log_query(bad)


class FakeStream:
    """A urllib3-like streamed response: chunks, then (if endless) more until closed."""

    def __init__(self, chunks, *, endless=False):
        self.chunks, self.endless, self.closed = chunks, endless, threading.Event()

    def stream(self, amount, decode_content=True):
        yield from self.chunks
        while self.endless and not self.closed.wait(0.05):
            yield b"tick\n"
        if self.endless:
            raise OSError("closed under the reader")

    def close(self):
        self.closed.set()


TARGET = SimpleNamespace(cluster=SimpleNamespace(slug="fed-a1"))


async def _collect(stream, limit=None):
    out = []
    async for chunk in stream:
        out.append(chunk)
        if limit and len(out) >= limit:
            break
    return out


def test_a_follow_passes_chunks_on_and_gives_its_slot_back():
    response = FakeStream([b"one\n", b"two\n"])
    slot = drilldown.followers.acquire("u1")
    chunks = asyncio.run(_collect(drilldown.follow_stream(TARGET, response, user_id="u1", slot=slot)))
    assert chunks == [b"one\n", b"two\n"] and response.closed.is_set()
    assert drilldown.followers.count("u1") == 0


def test_a_follow_ends_after_its_time_and_closes_the_cluster_stream():
    response = FakeStream([b"first\n"], endless=True)
    slot = drilldown.followers.acquire("u2")
    chunks = asyncio.run(_collect(drilldown.follow_stream(TARGET, response, user_id="u2", slot=slot, seconds=0.3)))
    assert chunks[0] == b"first\n" and b"tick\n" in chunks
    assert b"Following stopped after" in chunks[-1]
    assert response.closed.is_set() and drilldown.followers.count("u2") == 0


def test_a_page_that_goes_away_ends_the_follow():
    response = FakeStream([b"a\n"], endless=True)
    slot = drilldown.followers.acquire("u3")

    async def read_two_then_leave():
        stream = drilldown.follow_stream(TARGET, response, user_id="u3", slot=slot)
        got = await _collect(stream, limit=2)
        await stream.aclose()  # what Django does when the client disconnects
        return got

    assert len(asyncio.run(read_two_then_leave())) == 2
    assert response.closed.wait(2) and drilldown.followers.count("u3") == 0


def test_followers_per_user_are_bounded_and_slots_expire():
    followers = drilldown.Followers(2, lifetime=60)
    first = followers.acquire("u")
    followers.acquire("u")
    with pytest.raises(drilldown.TooManyFollowers) as refused:
        followers.acquire("u")
    assert refused.value.status_code == 429
    followers.acquire("someone else")
    followers.release("u", first)
    followers.acquire("u")
    stale = drilldown.Followers(1, lifetime=0)  # a slot never released (stream never iterated) expires
    stale.acquire("u")
    stale.acquire("u")


@pytest.mark.parametrize("who,status", [("viewer", 403), ("auditor", 403), ("outsider", 404)])
def test_follow_url_refuses_who_may_not_read_logs(personas, login, topology, ftypes, who, status):
    from clusters.federation import services

    from .conftest import SYSTEM, deployment
    resource = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                                  ftype=ftypes["Deployment"], name="web", template=deployment())
    url = f"/federation/acme/prod/{resource.pk}/clusters/fed-a1/logs/follow/?pod=web-1"
    assert login(personas[who]).get(url).status_code == status
