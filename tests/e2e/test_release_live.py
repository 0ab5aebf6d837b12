"""The release page in Chromium.

1. Events only (no executor): the page draws the server's snapshot, then applies the release's
   numbered events as they are committed — pod squares change colour, progress bars fill, the
   gate chart and the request success ratio appear — and a page that was offline while events
   were recorded ends with exactly the state of one that never was (and of a fresh load).
   Events are recorded in this test process, where the live push is off (conftest): they reach
   the browser through the page's own gap fill (events.json), the path a reconnect takes.
2. Screenshots of the release pages in English and Simplified Chinese (only with PAAS_RELEASE_SHOTS=<folder>).
3. A real release (PostgreSQL only: the executor's threads write the database): simulated
   clusters, the executor, the browser — start, watch, pause, resume, roll back.
"""
import os
from pathlib import Path

import pytest
from django.db import transaction
from playwright.sync_api import expect

from releases import events
from releases.models import PodProgress, Release, ReleaseStep, StepTarget
from tests.federation.conftest import fedsim, topology  # noqa: F401 (fixtures: the simulated clusters)
from tests.releases.pages_world import set_state, world

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

WAIT = 20_000
SHOTS = Path(os.environ.get("PAAS_RELEASE_SHOTS", "/tmp/paas-release-shots"))
# The screenshots are for people to look at (PAAS_RELEASE_SHOTS=<folder>): not collected otherwise (so
# neither run nor shown as skipped in CI, which skips nothing).
SHOTS_WANTED = bool(os.environ.get("PAAS_RELEASE_SHOTS"))


def _record(release, kind, data, message=""):
    with transaction.atomic():
        events.record(Release.objects.get(pk=release.pk), kind, message or kind, data=data)


def _pod(w, name, state, revision=1):
    """A pod.state event, with its row changed in the same transaction as the executor does."""
    cluster = w["clusters"][0] if "-k1-" in name else w["clusters"][1]
    restarts = 0 if state != "new" else 1
    PodProgress.objects.filter(release=w["release"], cluster=cluster, name=name).update(
        state=state, revision=revision, restarts=restarts)
    return {"cluster": cluster.pk, "cluster_slug": cluster.slug, "cell": cluster.cell.slug, "component": "api",
            "pod": name, "state": state, "revision": revision, "restarts": restarts, "reason": ""}


def _view(page) -> dict:
    """What the page shows, as data: the applied state without the event log's timestamps."""
    return page.evaluate("""() => { const s = window.ReleaseLive.state();
        return {last: window.ReleaseLive.last(), state: s.state, reason: s.reason,
                steps: s.steps.map(x => [x.index, x.state, x.targets.map(t => [t.cluster, t.updated, t.ready])]),
                pods: s.pods.map(p => [p.cluster, p.pod, p.state, p.revision]).sort(),
                gates: s.gates, traffic: s.traffic.map(p => [p.seq, p.success_ratio]),
                events: s.events.map(e => [e.seq, e.kind])}; }""")


def test_release_page_applies_events_in_order_and_catches_up_after_offline(b, personas_e2e, tenant):
    w = world(tenant)
    release = w["release"]
    set_state(release, Release.State.RUNNING)
    watcher = b.new_page(personas_e2e["viewer"])
    b.goto(watcher, f"/releases/{release.pk}/")
    expect(watcher.locator("#release-grid .pod")).to_have_count(4)
    expect(watcher.locator("#release-grid .pod-updating")).to_have_count(1)  # from the snapshot's pod.state event
    expect(watcher.locator("#release-steps .release-step")).to_have_count(2)
    expect(watcher.locator("[data-testid=success-ratio]")).to_have_text("100%")
    expect(watcher.locator("#release-gates .release-gate svg")).to_have_count(1)
    # Buttons: a viewer has none.
    expect(watcher.locator("form.release-action")).to_have_count(0)

    ReleaseStep.objects.filter(release=release, index=0).update(state="running")
    _record(release, "step.started", {"step": 0, "name": "beta"})
    _record(release, "pod.state", _pod(w, "payments-api-api-k1-0", "new", 2))
    StepTarget.objects.filter(step__release=release, step__index=0).update(updated=1, ready=1)
    _record(release, "step.progress", {"step": 0, "cluster": w["clusters"][0].pk, "cluster_slug": "k1",
                                       "component": "api", "updated": 1, "ready": 1, "desired": 2, "total": 2})
    _record(release, "traffic.sample", {"sent": 200, "ok": 199, "failed": 1, "success_ratio": 0.995})
    expect(watcher.locator("#release-grid .pod-new")).to_have_count(1, timeout=WAIT)
    expect(watcher.locator("[data-testid=success-ratio]")).to_have_text("99.50%", timeout=WAIT)
    expect(watcher.locator("#release-steps .release-step").first).to_have_attribute("data-state", "running")

    # Offline while the release moves on: nothing arrives; back online, the page catches up.
    watcher.context.set_offline(True)
    _record(release, "pod.state", _pod(w, "payments-api-api-k1-1", "draining"))
    _record(release, "gate.result", {"step": 0, "gate": "error rate", "value": 0.2, "threshold": 0.05, "op": "<",
                                     "ok": False, "detail": "too many errors"})
    with transaction.atomic():
        locked = Release.objects.select_for_update().get(pk=release.pk)
        locked.state, locked.reason = Release.State.PAUSED, "gate error rate failed: 0.2"
        locked.save(update_fields=["state", "reason"])
        events.record(locked, "release.paused", "paused by a gate",
                      data={"state": "paused", "step": 0, "reason": "gate error rate failed: 0.2"})
    watcher.wait_for_timeout(1500)
    assert _view(watcher)["state"] == "running"
    watcher.context.set_offline(False)
    expect(watcher.locator("#release-state-badge [data-release-state]")).to_have_attribute(
        "data-release-state", "paused", timeout=WAIT)
    expect(watcher.locator("#release-reason")).to_contain_text("gate error rate failed")
    expect(watcher.locator("#release-grid .pod-draining")).to_have_count(1)
    expect(watcher.locator("#release-gates .release-chart-bad")).to_have_count(1)
    expect(watcher.locator("#release-events li").first).to_have_attribute("data-kind", "release.paused")

    fresh = b.new_page(personas_e2e["developer"])
    b.goto(fresh, f"/releases/{release.pk}/")
    expect(fresh.locator("[data-testid=action-resume]")).to_be_visible()
    expect(fresh.locator("[data-testid=action-pause]")).to_be_hidden()
    seen, loaded = _view(watcher), _view(fresh)
    assert seen["last"] == loaded["last"] == Release.objects.get(pk=release.pk).last_seq
    assert seen == loaded

    # The developer resumes (a POST form, the service): the watcher's page follows over the live
    # socket from the server process, and its buttons would too (it has none: a viewer).
    fresh.locator("[data-testid=action-resume]").click()
    fresh.wait_for_load_state("load")
    expect(fresh.locator(".alert-success")).to_contain_text("resumed")
    expect(watcher.locator("#release-state-badge [data-release-state]")).to_have_attribute(
        "data-release-state", "running", timeout=WAIT)
    expect(fresh.locator("[data-testid=action-pause]")).to_be_visible()
    expect(fresh.locator("[data-testid=action-resume]")).to_be_hidden()
    assert _view(watcher) == _view(fresh)


def _release_pages_screenshots(language, b, personas_e2e, tenant):
    w = world(tenant)
    set_state(w["release"], Release.State.RUNNING)
    ReleaseStep.objects.filter(release=w["release"], index=0).update(state="running")
    StepTarget.objects.filter(step__release=w["release"], step__index=0).update(updated=2, ready=1)
    _record(w["release"], "step.started", {"step": 0, "name": "beta"})
    _record(w["release"], "pod.state", _pod(w, "payments-api-api-k1-0", "new", 2))
    _record(w["release"], "pod.state", _pod(w, "payments-api-api-k1-1", "warming", 2))
    _record(w["release"], "step.progress", {"step": 0, "cluster": w["clusters"][0].pk, "cluster_slug": "k1",
                                            "component": "api", "updated": 2, "ready": 1, "desired": 2, "total": 2})
    for i, ratio in enumerate((1.0, 1.0, 0.998, 1.0, 1.0)):
        _record(w["release"], "traffic.sample", {"sent": 100 * (i + 1), "ok": 100 * (i + 1), "failed": 0,
                                                 "success_ratio": ratio})
    _record(w["release"], "gate.result", {"step": 0, "gate": "error rate", "value": 0.02, "threshold": 0.05,
                                          "op": "<", "ok": True})
    page = b.new_page(personas_e2e["owner"])
    if language != "en":
        page.context.add_cookies([{"name": "django_language", "value": language, "url": b.base_url}])
    SHOTS.mkdir(parents=True, exist_ok=True)
    b.goto(page, f"/releases/{w['release'].pk}/")
    expect(page.locator("#release-grid .pod-new")).to_have_count(1)
    page.screenshot(path=str(SHOTS / f"release-detail-{language}.png"), full_page=True)
    b.goto(page, "/releases/")
    page.screenshot(path=str(SHOTS / f"release-list-{language}.png"), full_page=True)
    b.goto(page, f"/applications/{w['app'].pk}/instances/prod/")
    page.screenshot(path=str(SHOTS / f"instance-card-{language}.png"), full_page=True)
    b.goto(page, f"/releases/new/?application={w['app'].pk}&environment=prod")
    page.locator("[data-testid=preview]").click()
    page.wait_for_load_state("load")
    page.screenshot(path=str(SHOTS / f"release-new-{language}.png"), full_page=True)


if SHOTS_WANTED:
    test_release_pages_screenshots = pytest.mark.parametrize("language", ["en", "zh-hans"])(
        _release_pages_screenshots)


# --- 3. The real thing: simulated clusters, the executor, the browser ---------------------

def test_a_release_runs_live_pauses_resumes_and_rolls_back(postgresql_only, b, personas_e2e, tenant, monkeypatch,
                                                           settings, request):
    """A developer releases revision 2 of payments-api (a CloneSet in three simulated clusters)
    from the browser: preview, create, start; the page shows the pods move live; pause, resume,
    then roll back, each from its button. The executor runs in this process as a worker would
    (releases.engine.executor.advance on a thread, started when the browser's action hands the
    release over), on the same PostgreSQL database as the server."""
    from releases.models import ReleaseEvent
    from tests.releases.engine_support import Background, cleanup_clonesets, deploy, needs_postgres, revisions

    needs_postgres()
    sim = request.getfixturevalue("topology")  # tests/federation/conftest.py: the simulated clusters
    settings.RELEASE_LEASE_TTL_SECONDS = 3
    settings.RELEASE_LEASE_HEARTBEAT_SECONDS = 0.5
    pytest.fedsim_server = sim["server"]
    try:
        app, instance, second = deploy(tenant, monkeypatch)
        first = instance.baseline
        dev = b.new_page(personas_e2e["developer"])
        b.goto(dev, f"/applications/{app.pk}/instances/test/")
        dev.locator("[data-testid=release-revision]").first.click()
        dev.wait_for_load_state("load")
        dev.select_option("#id_target", str(second.pk))
        dev.fill("#id_batches", "100%")
        dev.select_option("#id_confirm", "manual")  # the beta runs, then each cell waits for a confirmation
        dev.fill("#id_drain_seconds", "1")          # a second per pod: time to pause in the middle of a step
        dev.fill("#id_warmup_seconds", "0")
        dev.fill("#id_timeout_seconds", "20")
        dev.locator("[data-testid=preview]").click()
        expect(dev.locator("[data-testid=release-preview]")).to_contain_text("in place")
        dev.locator("[data-testid=create]").click()
        expect(dev.locator("[data-testid=release-state] [data-release-state]")).to_have_attribute(
            "data-release-state", "planned")
        release = Release.objects.get(instance=instance, target=second)
        watcher = b.new_page(personas_e2e["viewer"])
        b.goto(watcher, f"/releases/{release.pk}/")
        b.socket_frames(watcher)
        badge = watcher.locator("#release-state-badge [data-release-state]")
        new_pods = "n => document.querySelectorAll('#release-grid .pod-new').length === n"

        # Start: the beta pod moves, live on the watcher's page; then the release waits for a person.
        dev.locator("[data-testid=action-start]").click()
        assert Background(release.pk).join() == Release.State.WAITING
        expect(badge).to_have_attribute("data-release-state", "waiting", timeout=WAIT)
        watcher.wait_for_function(new_pods, arg=1, timeout=WAIT)
        expect(watcher.locator("#release-steps .release-step").first).to_have_attribute("data-state", "succeeded")
        expect(dev.locator("[data-testid=action-confirm]")).to_be_visible(timeout=WAIT)

        # Confirm the next cell, and pause it half-way: the executor stops after the pod in hand.
        dev.locator("[data-testid=action-confirm]").click()
        runner = Background(release.pk)
        expect(badge).to_have_attribute("data-release-state", "running", timeout=WAIT)
        dev.locator("[data-testid=action-pause]").click()
        assert runner.join() == Release.State.PAUSED
        expect(badge).to_have_attribute("data-release-state", "paused", timeout=WAIT)
        moved = sum(1 for v in revisions().values() if v == str(second.number))
        assert 1 <= moved < 5, moved  # stopped within the cell: not all of its four pods moved
        watcher.wait_for_function(new_pods, arg=moved, timeout=WAIT)

        # Resume: the cell finishes.
        expect(dev.locator("[data-testid=action-resume]")).to_be_visible(timeout=WAIT)
        dev.locator("[data-testid=action-resume]").click()
        runner = Background(release.pk)
        assert runner.join() in (Release.State.WAITING, Release.State.SUCCEEDED)
        watcher.wait_for_function(new_pods, arg=4, timeout=WAIT)  # all of cell-a (the beta pod was one of them)
        # cell-b: not touched yet; every pod is in the grid from the release's start, on the baseline.
        expect(watcher.locator("#release-grid .pod-unknown")).to_have_count(0)
        expect(watcher.locator("#release-grid .pod-old")).to_have_count(2)

        # Roll back from the page: every pod returns to revision 1, in place.
        b.goto(dev, f"/releases/{release.pk}/")
        dev.locator("[data-testid=action-rollback]").click()
        dev.locator("#confirmModal [data-confirm-ok]").click()
        dev.wait_for_load_state("load")
        assert Background(release.pk).join() == Release.State.ROLLED_BACK
        expect(badge).to_have_attribute("data-release-state", "rolled_back", timeout=WAIT)
        assert set(revisions().values()) == {str(first.number)}
        watcher.wait_for_function(new_pods, arg=0, timeout=WAIT)

        # The watcher never reloaded; a fresh page shows exactly the same.
        fresh = b.new_page(personas_e2e["auditor"])
        b.goto(fresh, f"/releases/{release.pk}/")
        release.refresh_from_db()
        watcher.wait_for_function(f"window.ReleaseLive.last() === {release.last_seq}", timeout=WAIT)
        assert _view(watcher) == _view(fresh)
        seqs = list(ReleaseEvent.objects.filter(release=release).values_list("seq", flat=True).order_by("seq"))
        assert seqs == list(range(1, release.last_seq + 1))
        if os.environ.get("PAAS_RELEASE_SHOTS"):
            SHOTS.mkdir(parents=True, exist_ok=True)
            watcher.screenshot(path=str(SHOTS / "release-rolled-back-en.png"), full_page=True)
    finally:
        cleanup_clonesets(sim["server"])
