"""The executor's cheap paths: pod states of one pass written in bulk (rows, gap-free numbered
events, one push after commit) and pods read as raw JSON with the client models' attribute names."""
from django.db import transaction


def test_one_pass_of_pod_states_is_written_in_bulk_with_gap_free_events(tenant, django_capture_on_commit_callbacks,
                                                                         monkeypatch):
    from releases import live
    from releases.engine.transitions import Fence, observed
    from releases.models import PodProgress

    from .rows import release_rows

    release = release_rows(tenant, None)["release"]
    release.lease_token = 3
    release.save(update_fields=["lease_token"])
    cluster = release.instance.environment.bindings.first().cluster
    pushed = []
    monkeypatch.setattr(live, "push_many", lambda tenant_id, release_id, payloads: pushed.append(payloads))
    fence = Fence(release_id=release.pk, token=3)
    first = [{"component": "api", "pod": f"p{i}", "state": "out", "revision": 1, "restarts": 0, "reason": ""}
             for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        observed(fence, None, pods=[(cluster, first)], progress=[])
    second = [{"component": "api", "pod": "p1", "state": "updating", "revision": 1, "restarts": 0, "reason": ""},
              {"component": "api", "pod": "p3", "state": "old", "revision": 1, "restarts": 2, "reason": "x" * 600}]
    with django_capture_on_commit_callbacks(execute=True):
        observed(fence, None, pods=[(cluster, second)], progress=[])

    rows = {p.name: (p.state, p.restarts, len(p.reason)) for p in PodProgress.objects.filter(release=release)}
    assert rows == {"p0": ("out", 0, 0), "p1": ("updating", 0, 0), "p2": ("out", 0, 0), "p3": ("old", 2, 500)}
    events = list(release.events.filter(kind="pod.state").order_by("seq").values_list("seq", "data"))
    assert [d["pod"] for _, d in events] == ["p0", "p1", "p2", "p1", "p3"]
    seqs = [s for s, _ in events]
    assert seqs == list(range(seqs[0], seqs[0] + 5))  # consecutive: nothing else was recorded in between
    release.refresh_from_db()
    assert release.last_seq == seqs[-1]
    # One push per pass, after commit, in the events' order.
    assert [[p["seq"] for p in batch] for batch in pushed] == [seqs[:3], seqs[3:]]


def test_record_many_numbers_after_record(tenant):
    from releases import events

    from .rows import release_rows

    release = release_rows(tenant, None)["release"]
    with transaction.atomic():
        one = events.record(release, "step.progress", data={})
        more = events.record_many(release, [("pod.state", "", {"n": 1}), ("pod.state", "", {"n": 2})])
    assert [e.seq for e in more] == [one.seq + 1, one.seq + 2]
    assert [e.data["n"] for e in release.events.filter(seq__gt=one.seq).order_by("seq")] == [1, 2]


def test_a_raw_pod_reads_like_the_clients_v1pod():
    from releases.engine.pods import pod_ready, restarts_of, waiting_reason
    from releases.engine.workload import RawObject

    pod = RawObject({
        "metadata": {"name": "web-1", "labels": {"paas.io/traffic-hook": "true"}},
        "status": {"podIP": "10.0.0.7", "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"restartCount": 2, "state": {"waiting": {
                       "reason": "CrashLoopBackOff", "message": "back-off"}}}]}})
    assert pod.metadata.name == "web-1" and pod.metadata.deletion_timestamp is None
    assert pod.metadata.labels == {"paas.io/traffic-hook": "true"}  # a plain dict, as the client gives it
    assert pod.status.pod_ip == "10.0.0.7"
    assert pod_ready(pod) and restarts_of(pod) == 2
    assert waiting_reason(pod) == "CrashLoopBackOff: back-off"
    assert not pod_ready(RawObject({"metadata": {"name": "x"}}))  # no status yet
