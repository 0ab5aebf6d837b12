"""Release services: create (plan rows, one active release per instance, the instance's target),
each action in each state (allowed, no-op, or 409 naming the state), permissions per role and
environment kind, gap-free numbered events, audit rows, the direct apply refused while releasing."""
import pytest

from applications import services as app_services
from applications.models import AppInstance
from paas.actors import Actor
from paas.audit.models import AuditEvent
from paas.errors import Conflict, DomainError
from paas.permissions import NotPermitted
from releases import services
from releases.models import Release, ReleaseEvent, ReleaseStep, StepTarget
from releases.selectors import available_actions

from ..applications.conftest import SYSTEM
from .conftest import revisions

pytestmark = pytest.mark.django_db
S = Release.State


def audit_actions(since=0):
    return list(AuditEvent.objects.filter(id__gt=since).order_by("id").values_list("action", "outcome"))


def last_audit():
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_create_writes_the_plan_rows_sets_the_target_and_records(app):
    instance, first, second = revisions(app, "test")
    mark = last_audit()
    release = services.release_create(actor=SYSTEM, instance=instance, target=second,
                                      options={"beta": {"pods": 1}, "batches": ["100%"]}, description="1.1")
    assert release.state == S.PLANNED and release.number == 1
    assert release.baseline == first and release.target == second
    plan = release.plan
    assert plan["in_place"] is True and plan["workloads"][0]["kind"] == "CloneSet"
    # test: 2 pods in each of k1..k4; beta in c1 then cells c1, c2, c3 (one batch each).
    assert [s["group"] for s in plan["steps"]] == ["cell c1", "cell c1", "cell c2", "cell c3"]
    steps = list(release.steps.order_by("index"))
    assert [(s.index, s.kind, s.manual) for s in steps] == [(0, "beta", False), (1, "batch", True),
                                                             (2, "batch", True), (3, "batch", True)]
    rows = sorted(StepTarget.objects.filter(step__release=release).values_list(
        "step__index", "cluster__slug", "desired", "total", "in_place", "workload_name"))
    assert rows == [(0, "k1", 1, 2, True, "payments-api-api"), (1, "k1", 2, 2, True, "payments-api-api"),
                    (1, "k2", 2, 2, True, "payments-api-api"), (2, "k3", 2, 2, True, "payments-api-api"),
                    (3, "k4", 2, 2, True, "payments-api-api")]
    instance.refresh_from_db()
    assert instance.target == second and instance.state == AppInstance.State.RELEASING
    assert [e.kind for e in release.events.all()] == ["release.created"]
    assert audit_actions(mark) == [("release.create", "success")]
    # One active release per instance.
    with pytest.raises(Conflict) as exc:
        services.release_create(actor=SYSTEM, instance=instance, target=second)
    assert exc.value.code == "release_active"


def test_the_direct_apply_is_refused_while_a_release_is_active(app):
    instance, first, second = revisions(app, "test")
    release = services.release_create(actor=SYSTEM, instance=instance, target=second)
    with pytest.raises(Conflict) as exc:
        app_services.instance_apply_revision(actor=SYSTEM, instance=instance, revision=first)
    assert exc.value.code == "release_active" and exc.value.status_code == 409
    services.release_abort(actor=SYSTEM, release=release)
    instance.refresh_from_db()
    assert instance.target is None and instance.state == AppInstance.State.DEPLOYED  # nothing was touched
    app_services.instance_apply_revision(actor=SYSTEM, instance=instance, revision=second)


def test_a_recreating_change_and_bad_targets(app, tenant):
    instance, first, second = revisions(app, "test", args=["--verbose"])
    plan = services.release_preview(actor=SYSTEM, instance=instance, target=second, options={})
    assert plan["in_place"] is False and not any(t["in_place"] for s in plan["steps"] for t in s["targets"])
    with pytest.raises(DomainError) as exc:
        services.release_preview(actor=SYSTEM, instance=instance, target=first)
    assert exc.value.code == "already_baseline"
    pre_instance, pre_first, pre_second = revisions(app, "pre")
    with pytest.raises(DomainError) as exc:
        services.release_create(actor=SYSTEM, instance=instance, target=pre_second)
    assert exc.value.field == "target"
    with pytest.raises(DomainError) as exc:
        services.release_create(actor=SYSTEM, instance=instance, target=second, options={"grouping": "galaxy"})
    assert exc.value.field == "options.grouping"
    assert not Release.objects.exists()


def test_the_plan_names_the_instance_s_workload_resource(app):
    instance, first, second = revisions(app, "test")
    app_services.instance_apply_revision(actor=SYSTEM, instance=instance, revision=first)  # a real deployment
    plan = services.release_preview(actor=SYSTEM, instance=instance, target=second)
    link = instance.resource_links.get(role="workload")
    assert plan["workloads"] == [{"component": "api", "kind": "CloneSet", "name": "payments-api-api",
                                  "resource_id": link.resource_id, "in_place": True}]
    assert [c["slug"] for c in plan["clusters"]] == ["k1", "k2", "k3", "k4"]
    assert plan["clusters"][0]["pods"] == {"api": 2}


def test_no_baseline_no_release(app):
    instance, first, second = revisions(app, "pre")
    AppInstance.objects.filter(pk=instance.pk).update(baseline=None)
    instance.refresh_from_db()
    with pytest.raises(Conflict) as exc:
        services.release_create(actor=SYSTEM, instance=instance, target=second)
    assert exc.value.code == "no_baseline"


# --- each action in each state -----------------------------------------------------------------

# state -> expected outcome: a state, ("flag", name), "noop" or 409.
EXPECTED = {
    "start": {S.PLANNED: S.RUNNING},
    "confirm": {S.WAITING: S.RUNNING},
    "pause": {S.RUNNING: ("flag", "pause_requested"), S.WAITING: S.PAUSED, S.PAUSED: "noop"},
    "resume": {S.PAUSED: S.RUNNING},
    "abort": {S.PLANNED: S.ABORTED, S.WAITING: S.ABORTED, S.PAUSED: S.ABORTED, S.ABORTED: "noop",
              S.RUNNING: ("flag", "abort_requested"), S.ROLLING_BACK: ("flag", "abort_requested")},
    "rollback": {S.RUNNING: ("flag", "rollback_requested"), S.WAITING: S.ROLLING_BACK, S.PAUSED: S.ROLLING_BACK,
                 S.FAILED: S.ROLLING_BACK, S.ABORTED: S.ROLLING_BACK, S.SUCCEEDED: S.ROLLING_BACK,
                 S.ROLLING_BACK: "noop", S.ROLLED_BACK: "noop"},
}
CALLS = {"start": services.release_start, "confirm": services.release_confirm, "pause": services.release_pause,
         "resume": services.release_resume, "abort": services.release_abort, "rollback": services.release_rollback}


@pytest.mark.parametrize("action", list(EXPECTED))
def test_each_action_in_each_state(app, action):
    instance, first, second = revisions(app, "test")
    release = services.release_create(actor=SYSTEM, instance=instance, target=second)
    for state in S.values:
        # What the executor would have left: the state, no flags; a succeeded release made its target the baseline.
        Release.objects.filter(pk=release.pk).update(state=state, pause_requested=False, abort_requested=False,
                                                     rollback_requested=False)
        AppInstance.objects.filter(pk=instance.pk).update(baseline=second if state == S.SUCCEEDED else first)
        release.refresh_from_db()
        seq, mark = release.last_seq, last_audit()
        expected = EXPECTED[action].get(state, 409)
        shown = available_actions(SYSTEM, release)[action]
        if expected == 409:
            with pytest.raises(Conflict) as exc:
                CALLS[action](actor=SYSTEM, release=release)
            assert exc.value.code == "wrong_state" and exc.value.status_code == 409
            assert Release.objects.get(pk=release.pk).get_state_display().lower() in exc.value.message
            assert not shown, (action, state)
            continue
        result = CALLS[action](actor=SYSTEM, release=release)
        fresh = Release.objects.get(pk=release.pk)
        if expected == "noop":
            assert fresh.state == state and fresh.last_seq == seq and audit_actions(mark) == []
            continue
        assert shown, (action, state)
        if isinstance(expected, tuple):
            assert fresh.state == state and getattr(fresh, expected[1]) is True
        else:
            assert fresh.state == expected == result.state, (action, state)
        # One numbered event and one audit row per transition.
        assert fresh.last_seq == seq + 1
        assert audit_actions(mark) == [(f"release.{action}", "success")]
    numbers = list(release.events.order_by("seq").values_list("seq", flat=True))
    assert numbers == list(range(1, len(numbers) + 1))


def test_resume_returns_to_waiting_when_the_step_still_awaits_confirmation(app):
    instance, first, second = revisions(app, "test")
    release = services.release_create(actor=SYSTEM, instance=instance, target=second)
    Release.objects.filter(pk=release.pk).update(state=S.WAITING, current_step=1)
    ReleaseStep.objects.filter(release=release, index=1).update(state=ReleaseStep.State.WAITING)
    services.release_pause(actor=SYSTEM, release=release, reason="lunch")
    release.refresh_from_db()
    assert release.state == S.PAUSED and release.reason == "lunch"
    services.release_resume(actor=SYSTEM, release=release)
    release.refresh_from_db()
    assert release.state == S.WAITING and release.reason == ""
    developer = Actor.for_system("tests")
    services.release_confirm(actor=developer, release=release)
    assert Release.objects.get(pk=release.pk).state == S.RUNNING
    # A pending pause can be withdrawn.
    services.release_pause(actor=SYSTEM, release=release)
    assert Release.objects.get(pk=release.pk).pause_requested
    services.release_resume(actor=SYSTEM, release=release)
    fresh = Release.objects.get(pk=release.pk)
    assert fresh.state == S.RUNNING and not fresh.pause_requested
    kinds = list(fresh.events.values_list("kind", flat=True))
    assert kinds == ["release.created", "release.paused", "release.resumed", "release.confirmed",
                     "release.pause_requested", "release.resumed"]
    assert fresh.events.get(kind="release.paused").data == {"state": "paused", "step": 1, "reason": "lunch"}


def test_rollback_after_success_only_while_nothing_newer(app):
    instance, first, second = revisions(app, "test")
    release = services.release_create(actor=SYSTEM, instance=instance, target=second)
    Release.objects.filter(pk=release.pk).update(state=S.SUCCEEDED)
    AppInstance.objects.filter(pk=instance.pk).update(baseline=second, target=None,
                                                      state=AppInstance.State.DEPLOYED)
    # A newer release (back to the first revision's spec, as revision 3) exists: rolling back 1 is refused.
    services_app_component = app.components.get()
    app_services.component_update(actor=SYSTEM, component=services_app_component,
                                  data={"image": "acme/payments-api:1.0", "args": ["--x"]})
    third = app_services.revision_create(actor=SYSTEM, application=app, environment=instance.environment)
    instance.refresh_from_db()
    newer = services.release_create(actor=SYSTEM, instance=instance, target=third)
    with pytest.raises(Conflict) as exc:
        services.release_rollback(actor=SYSTEM, release=release)
    assert exc.value.code == "newer_release"
    assert not available_actions(SYSTEM, Release.objects.get(pk=release.pk))["rollback"]
    # Without it, the succeeded release rolls back, and the instance is moving to the baseline again.
    newer.events.all().delete()
    newer.steps.all().delete()
    newer.delete()
    services.release_rollback(actor=SYSTEM, release=release, reason="bad metrics")
    release.refresh_from_db()
    instance.refresh_from_db()
    assert release.state == S.ROLLING_BACK and release.rollback_requested and release.reason == "bad metrics"
    assert instance.target == first and instance.state == AppInstance.State.RELEASING
    event = release.events.order_by("-seq").first()
    assert event.kind == "release.rollback_started" and event.data["reason"] == "bad metrics"


def test_hostile_reason_is_refused(app):
    instance, first, second = revisions(app, "test")
    release = services.release_create(actor=SYSTEM, instance=instance, target=second)
    Release.objects.filter(pk=release.pk).update(state=S.RUNNING)
    for reason in ("x" * 5000, ["a"], {"a": 1}):
        with pytest.raises(DomainError) as exc:
            services.release_pause(actor=SYSTEM, release=release, reason=reason)
        assert exc.value.field == "reason"


# --- permissions ---------------------------------------------------------------------------------

ALLOWED = {  # role -> may release into (test, prod)
    "owner": (True, True), "admin": (True, True), "developer": (True, False), "approver": (False, False),
    "viewer": (False, False), "auditor": (False, False), "outsider": (False, False),
}


@pytest.mark.parametrize("env_slug, column", [("test", 0), ("pre", 1), ("prod", 1)])
def test_who_may_release_where(app, personas, env_slug, column):
    instance, first, second = revisions(app, env_slug)
    for role, allowed in ALLOWED.items():
        actor = Actor.for_user(personas[role])
        mark = last_audit()
        if allowed[column]:
            release = services.release_create(actor=actor, instance=instance, target=second)
            services.release_abort(actor=actor, release=release)
            assert audit_actions(mark) == [("release.create", "success"), ("release.abort", "success")]
            continue
        with pytest.raises(NotPermitted):
            services.release_create(actor=actor, instance=instance, target=second)
        assert audit_actions(mark) == [("release.create", "denied")]
        # Readers may preview (a read); outsiders may not.
        if role == "outsider":
            with pytest.raises(NotPermitted):
                services.release_preview(actor=actor, instance=instance, target=second)
        else:
            assert services.release_preview(actor=actor, instance=instance, target=second)["steps"]
    # Actions on an existing release need the same permissions.
    release = services.release_create(actor=SYSTEM, instance=instance, target=second)
    for role, allowed in ALLOWED.items():
        actor = Actor.for_user(personas[role])
        assert any(available_actions(actor, release).values()) == allowed[column], role
        if not allowed[column]:
            with pytest.raises(NotPermitted):
                services.release_start(actor=actor, release=release)
    assert Release.objects.get(pk=release.pk).state == S.PLANNED
    allowed_role = "owner" if column else "developer"
    services.release_start(actor=Actor.for_user(personas[allowed_role]), release=release)
    assert Release.objects.get(pk=release.pk).state == S.RUNNING


def test_events_are_numbered_without_gaps(app):
    instance, first, second = revisions(app, "test")
    release = services.release_create(actor=SYSTEM, instance=instance, target=second)
    services.release_start(actor=SYSTEM, release=release)
    services.release_pause(actor=SYSTEM, release=release)
    services.release_abort(actor=SYSTEM, release=release)
    seqs = list(ReleaseEvent.objects.filter(release=release).order_by("seq").values_list("seq", "kind"))
    assert seqs == [(1, "release.created"), (2, "release.started"), (3, "release.pause_requested"),
                    (4, "release.abort_requested")]
    assert Release.objects.get(pk=release.pk).last_seq == 4


def test_an_application_with_releases_can_still_be_deleted(app):
    instance, first, second = revisions(app, "test")
    release = services.release_create(actor=SYSTEM, instance=instance, target=second)
    services.release_abort(actor=SYSTEM, release=release)
    from django.db.models import RestrictedError

    with pytest.raises(RestrictedError):  # a named revision is not deleted on its own
        second.delete()
    app_services.application_delete(actor=SYSTEM, application=app)
    assert not Release.objects.exists()
