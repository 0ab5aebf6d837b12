"""Gates failing (auto pause, auto rollback, with the gate and its value in the reason), and a
cluster that stops answering (its step fails with that reason instead of hanging)."""
import json
import time

import pytest

from releases.engine.executor import advance
from releases.models import Release
from tests.federation.conftest import fedsim, sim_admin, topology  # noqa: F401 (fixtures: the simulator)

from .engine_support import assert_gap_free, create, deploy, kinds, pods, revisions

pytestmark = pytest.mark.services
S = Release.State


def crashing_revision(instance):
    """A revision whose image crashes at start. Revisions pin images by digest, and the simulator
    picks misbehaviour from the tag, so this row is written directly with a tagged image (the
    revision services would pin it); everything else is revision 1's."""
    from applications.models import AppRevision

    first = instance.baseline
    spec = json.loads(json.dumps(first.spec))
    spec["components"][0]["image"] = "127.0.0.1:22999/acme/payments-api:2.0-crashloop"
    return AppRevision.objects.create(application=first.application, environment=first.environment, number=3,
                                      spec=spec, spec_hash="crashloop", secret_values=first.secret_values)


@pytest.mark.parametrize("policy", ["pause", "rollback"])
def test_a_failing_gate_pauses_or_rolls_back_and_says_which(engine_env, tenant, monkeypatch, policy):
    app, instance, _second = deploy(tenant, monkeypatch)
    bad = crashing_revision(instance)
    before = pods()
    release = create(instance, bad, on_gate_failure=policy,
                     gates={"timeout_seconds": 3, "min_ready_ratio": 1.0, "no_restarts": True, "metrics": []})
    result = advance(release.pk)
    release.refresh_from_db()
    gate = release.events.filter(kind="gate.result").last()
    assert gate.data["gate"] == "min_ready_ratio" and gate.data["ok"] is False and gate.data["value"] == 0
    assert "min_ready_ratio" in release.reason and "not ready after 3 s" in release.reason
    step = release.steps.get(index=0)
    assert step.state == "failed" and "min_ready_ratio" in step.error
    if policy == "pause":
        assert result == S.PAUSED and release.state == S.PAUSED
        assert sorted(revisions().values()).count(str(bad.number)) == 1  # the beta pod, left as it is
    else:
        assert result == S.ROLLED_BACK and release.state == S.ROLLED_BACK
        assert set(revisions().values()) == {str(instance.baseline.number)}
        assert set(pods()) == set(before)  # in place, there and back
        assert "release.rollback_started" in kinds(release)
    assert_gap_free(release)


def test_a_cluster_that_stops_answering_fails_the_step_with_the_reason(engine_env, tenant, monkeypatch, settings):
    settings.RELEASE_CLUSTER_TIMEOUT_SECONDS = 2
    app, instance, second = deploy(tenant, monkeypatch)
    release = create(instance, second, beta={"pods": 1, "cell": "cell-b"})
    # The beta step runs in fed-b1, which hangs (answers after 5 s, past every timeout) from the start.
    sim_admin(engine_env["server"], "fed-b1", {"latency_ms": 5000})
    started = time.monotonic()
    try:
        result = advance(release.pk)
    finally:
        sim_admin(engine_env["server"], "fed-b1", {"latency_ms": 0})
    took = time.monotonic() - started
    release.refresh_from_db()
    assert result == S.FAILED, release.reason
    assert "cluster fed-b1 did not answer for 2 s" in release.reason
    failed = release.steps.get(state="failed")
    assert failed.targets.get().state == "failed" and "fed-b1" in failed.targets.get().error
    assert took < 30, f"took {took:.1f}s"
    assert kinds(release)[-2:] == ["step.failed", "release.failed"]
    assert_gap_free(release)


def test_the_database_going_away_mid_step_loses_nothing_and_restarts_no_pod_twice(engine_env, tenant, monkeypatch):
    """The database stops answering while pods are moving: the executor's run ends with the error
    (the Celery task retries it; its lease lapses otherwise), the release keeps its state and its
    gap-free events, and the next run finishes from what the clusters say."""
    from django.db import OperationalError

    from releases.engine import transitions

    from .engine_support import restarts

    app, instance, second = deploy(tenant, monkeypatch)
    before = pods()
    release = create(instance, second, confirm="auto")
    real, calls = transitions.observed, {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # mid-step: the beta pod is on its way
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(transitions, "observed", flaky)
    with pytest.raises(OperationalError):
        advance(release.pk)
    release.refresh_from_db()
    assert release.state == S.RUNNING and not release.lease_owner  # nothing lost, nobody holds it
    assert_gap_free(release)
    assert advance(release.pk) == S.SUCCEEDED
    after = pods()
    assert set(after) == set(before)  # in place
    for key, pod in after.items():
        assert restarts(pod) == restarts(before[key]) + 1, key  # exactly once, across the two runs
    assert set(revisions().values()) == {str(second.number)}
    assert_gap_free(release)
