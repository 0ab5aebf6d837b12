"""The executor end to end against the simulator: a CloneSet release in place (same pods, one
restart each, new image, each pod through the traffic hook) with two workers racing for it, the
lease's fencing, a Deployment released cluster by cluster, events numbered without gaps."""
import pytest

from releases.engine import lease, transitions
from releases.engine.executor import advance
from releases.models import PodProgress, Release
from tests.federation.conftest import fedsim, topology  # noqa: F401 (fixtures: the simulator)

from .engine_support import (
    CLUSTERS,
    Background,
    assert_gap_free,
    create,
    deploy,
    image,
    kinds,
    pods,
    restarts,
)

pytestmark = pytest.mark.services


def test_cloneset_release_in_place_keeps_every_pod_and_restarts_it_once(engine_env, tenant, monkeypatch):
    """Two workers race for the release: the lease lets one drive it, the other returns at once."""
    app, instance, second = deploy(tenant, monkeypatch)
    before = pods()
    assert len(before) == 6 and all(image(p).endswith(":1.0") or "@" in image(p) for p in before.values())
    release = create(instance, second)
    first, other = Background(release.pk), Background(release.pk)
    assert sorted([first.join(), other.join()]) == ["busy", Release.State.SUCCEEDED]
    release.refresh_from_db()
    assert release.state == Release.State.SUCCEEDED, release.reason
    after = pods()
    assert set(after) == set(before)  # same names
    for key, pod in after.items():
        old = before[key]
        assert pod.metadata.uid == old.metadata.uid and pod.status.pod_ip == old.status.pod_ip
        assert restarts(pod) == restarts(old) + 1, key
        assert pod.metadata.labels["app.stratus.io/revision"] == str(second.number)
        assert image(pod) == second.spec["components"][0]["image"]
    instance.refresh_from_db()
    assert instance.baseline_id == second.pk and instance.target_id is None
    events = kinds(release)
    assert events[:2] == ["release.created", "release.started"] and events[-1] == "release.succeeded"
    assert events.count("step.succeeded") == release.steps.count()
    assert set(PodProgress.objects.filter(release=release).values_list("state", flat=True)) == {"new"}
    # Each pod went through the lifecycle hook: out of traffic, updated, warmed up, back (and the
    # controller let it go back to Normal once the hook label was "true" again).
    sequences = {}
    for event in release.events.filter(kind="pod.state").order_by("seq"):
        sequences.setdefault((event.data["cluster_slug"], event.data["pod"]), []).append(event.data["state"])
    assert set(sequences) == set(before)
    for key, states in sequences.items():
        assert [s for s in states if s != "old"] == ["draining", "updating", "warming", "new"], (key, states)
    for pod in after.values():
        assert pod.metadata.labels["paas.io/traffic-hook"] == "true"
        assert pod.metadata.labels["lifecycle.apps.kruise.io/state"] == "Normal"
    assert_gap_free(release)

    # A holder whose lease was taken over writes nothing (fencing by the lease token).
    old = lease.acquire(release.pk, "worker-a")
    assert old is not None and lease.acquire(release.pk, "worker-b") is None  # still held
    Release.objects.filter(pk=release.pk).update(lease_expires_at=None)  # as if it expired
    new = lease.acquire(release.pk, "worker-b")
    assert new == old + 1
    with pytest.raises(transitions.LeaseLost):
        transitions.set_state(transitions.Fence(release.pk, old), Release.State.PAUSED, "release.paused", "stale")
    assert Release.objects.get(pk=release.pk).state == Release.State.SUCCEEDED
    assert not lease.extend(release.pk, old) and lease.extend(release.pk, new)
    assert_gap_free(release)


def test_deployment_release_goes_cluster_by_cluster(engine_env, tenant, monkeypatch):
    app, instance, second = deploy(tenant, monkeypatch, kind="deployment", replicas=1)
    release = create(instance, second, beta={"pods": 0}, grouping="cluster")
    steps = list(release.steps.order_by("index"))
    assert [sorted(t.cluster.slug for t in s.targets.all()) for s in steps] == [[c] for c in CLUSTERS]
    assert advance(release.pk) == Release.State.SUCCEEDED
    events = [e for e in release.events.order_by("seq") if e.kind in ("step.started", "pod.state")]
    # While a cluster's step runs, the clusters of later steps still run revision 1.
    seen_new = []
    for event in events:
        if event.kind == "pod.state" and event.data["state"] == "new":
            seen_new.append(event.data["cluster_slug"])
    assert list(dict.fromkeys(seen_new)) == list(CLUSTERS)
    assert all(p.metadata.labels["app.stratus.io/revision"] == str(second.number) for p in pods().values())
    assert_gap_free(release)
