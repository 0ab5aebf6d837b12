"""Pause, resume, abort and rollback while the executor drives a release, rollback after success,
manual confirmation, and the stop switch (the release stops within a second)."""
import time

import pytest
from django.utils import timezone

from clusters.models import PlatformSwitch
from releases import services
from releases.engine.executor import advance
from releases.models import Release
from tests.federation.conftest import fedsim, topology  # noqa: F401 (fixtures: the simulator)

from .engine_support import (
    SYSTEM,
    Background,
    assert_gap_free,
    create,
    deploy,
    kinds,
    pods,
    restarts,
    revisions,
    wait_event,
)

pytestmark = pytest.mark.services
S = Release.State
# Beta (1 pod), then one step per cell, 2 s apart: time to act between steps.
SLOW = {"wait_seconds": 2, "batches": ["100%"]}


def test_pause_then_resume_finishes_and_abort_leaves_pods_where_they_are(engine_env, tenant, monkeypatch):
    app, instance, second = deploy(tenant, monkeypatch)
    release = create(instance, second, **SLOW)
    runner = Background(release.pk)
    wait_event(release, "step.succeeded", step=0)
    services.release_pause(actor=SYSTEM, release=release, reason="looking at the beta")
    assert runner.join() == S.PAUSED
    release.refresh_from_db()
    assert release.state == S.PAUSED and release.reason == "looking at the beta" and release.current_step == 1
    moved = [k for k, v in revisions().items() if v == str(second.number)]
    assert len(moved) == 1  # the beta pod only

    services.release_resume(actor=SYSTEM, release=release)
    runner = Background(release.pk)
    wait_event(release, "step.succeeded", step=1)
    services.release_abort(actor=SYSTEM, release=release, reason="enough")
    assert runner.join() == S.ABORTED
    release.refresh_from_db()
    assert release.state == S.ABORTED
    counts = {}
    for value in revisions().values():
        counts[value] = counts.get(value, 0) + 1
    # cell-a (4 pods) moved, cell-b (2 pods) stayed: pods keep the revision they have.
    assert counts == {str(second.number): 4, str(instance.baseline.number): 2}
    instance.refresh_from_db()
    assert instance.state == instance.State.DEPLOYED
    assert kinds(release).count("release.paused") == 1 and "release.aborted" in kinds(release)
    assert_gap_free(release)


def test_rollback_while_running_returns_every_pod_in_place(engine_env, tenant, monkeypatch):
    app, instance, second = deploy(tenant, monkeypatch)
    first = instance.baseline
    before = pods()
    release = create(instance, second, **SLOW)
    runner = Background(release.pk)
    wait_event(release, "step.succeeded", step=0)
    services.release_rollback(actor=SYSTEM, release=release, reason="bad beta")
    assert runner.join() == S.ROLLED_BACK
    release.refresh_from_db()
    assert release.reason == "bad beta"
    after = pods()
    assert set(after) == set(before)
    for key, pod in after.items():
        assert pod.metadata.uid == before[key].metadata.uid
        assert pod.metadata.labels["app.stratus.io/revision"] == str(first.number)
    # The beta pod went there and back (two restarts); the others were never touched.
    assert sorted(restarts(p) - restarts(before[k]) for k, p in after.items()) == [0, 0, 0, 0, 0, 2]
    instance.refresh_from_db()
    assert instance.baseline_id == first.pk and instance.target_id is None
    assert "release.rollback_started" in kinds(release) and kinds(release)[-1] == "release.rolled_back"
    assert_gap_free(release)


def test_rollback_after_success_and_manual_confirmation(engine_env, tenant, monkeypatch):
    app, instance, second = deploy(tenant, monkeypatch)
    first = instance.baseline
    release = create(instance, second, confirm="manual")
    assert advance(release.pk) == S.WAITING  # beta done, the next step waits for a person
    release.refresh_from_db()
    assert release.current_step == 1 and release.steps.get(index=1).state == "waiting"
    assert kinds(release)[-1] == "release.waiting"
    while release.state == S.WAITING:
        services.release_confirm(actor=SYSTEM, release=release)
        advance(release.pk)
        release.refresh_from_db()
    assert release.state == S.SUCCEEDED
    assert set(revisions().values()) == {str(second.number)}

    services.release_rollback(actor=SYSTEM, release=release, reason="regression found later")
    assert advance(release.pk) == S.ROLLED_BACK
    assert set(revisions().values()) == {str(first.number)}
    instance.refresh_from_db()
    assert instance.baseline_id == first.pk
    assert_gap_free(release)


def test_global_stop_switch_stops_the_release_within_a_second(engine_env, tenant, monkeypatch):
    app, instance, second = deploy(tenant, monkeypatch)
    release = create(instance, second, **SLOW)
    runner = Background(release.pk)
    wait_event(release, "step.succeeded", step=0)
    switched = time.monotonic()
    PlatformSwitch.objects.update_or_create(pk=1, defaults={"propagation_paused": True, "reason": "incident 42",
                                                            "changed_at": timezone.now()})
    try:
        event = wait_event(release, "release.stopped", timeout=5)
        took = time.monotonic() - switched
        assert runner.join() == S.PAUSED
    finally:
        PlatformSwitch.objects.filter(pk=1).update(propagation_paused=False)
    assert took < 1.0, f"stopped after {took:.2f}s"
    assert "stop switch" in event.data["reason"]
    release.refresh_from_db()
    assert release.state == S.PAUSED
