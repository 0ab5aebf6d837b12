"""What people do to a release: start, confirm, pause, resume, abort, roll back.

Each action authorizes (release_application on the environment, plus release_protected for pre
and prod), locks the release row, changes its state or sets a flag, records a numbered
ReleaseEvent and an audit event, and hands the release to the executor after commit. The
executor owns step progress, success and failure; while it drives a release (RUNNING,
ROLLING_BACK) an action only sets a flag it reads between two cluster calls. When nobody drives
the release (PLANNED, WAITING, PAUSED) the action moves the state itself.

  action    from state              result
  start     planned                 running (the executor starts step 1)
  confirm   waiting                 running (the executor starts the waiting step)
  pause     running                 pause_requested (the executor stops after the pod in hand -> paused)
            waiting                 paused
            paused / pause pending  nothing (already holds)
  resume    paused                  running, or waiting when the current step still awaits confirmation
            running + pause pending the pending pause is withdrawn
  abort     planned, waiting,       aborted (every pod stays on the revision it has)
            paused
            running, rolling_back   abort_requested (the executor stops where it is -> aborted)
            aborted / abort pending nothing (already holds)
  rollback  running                 rollback_requested (the executor turns round -> rolling_back)
            waiting, paused,        rolling_back (the executor returns every pod to the baseline)
            failed, aborted
            succeeded               rolling_back, while this release's target is still the instance's
                                    baseline and no newer release of the instance exists
            rolling_back, rolled_back, rollback pending: nothing (already holds)
Any other pair is a Conflict (409) naming the release's state. A failed or aborted release may
be rolled back only while it is the instance's latest release, too.

Confirmation: the executor puts a manual step in WAITING (release WAITING) when it reaches it;
`confirm` moves the release back to RUNNING and notes who confirmed on the step. A RUNNING
release whose current step is WAITING is therefore a confirmed one.
"""
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import AppInstance
from paas.actors import Actor
from paas.errors import Conflict, DomainError

from ..kick import kick_on_commit
from ..models import Release, ReleaseStep
from ._common import authorize_release, locked, transition, wrong_state

S = Release.State
MAX_REASON = 2000


def _reason(reason) -> str:
    reason = (reason or "").strip() if isinstance(reason, str) else reason
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise DomainError(_("reason: at most %(n)s characters of text") % {"n": MAX_REASON}, field="reason")
    return reason


def _current_step(release: Release) -> ReleaseStep | None:
    return release.steps.filter(index=release.current_step).first()


def _authorize(actor: Actor, release: Release, action: str) -> None:
    # Outside the action's transaction: the audit row of a refusal must survive the refusal.
    authorize_release(actor, release.environment, action=f"release.{action}")


def _begin(release: Release) -> tuple[Release, dict]:
    release = locked(release)
    return release, release.audit_fields()


def _save(release: Release, *fields) -> None:
    release.save(update_fields=[*fields, "updated_at"])


def _instance_settled(release: Release) -> None:
    """A release stopped by hand before the executor finished: the instance is no longer releasing
    (its target stays set when pods were moved, so pages show the mix)."""
    instance = AppInstance.objects.select_for_update().get(pk=release.instance_id)
    instance.state = AppInstance.State.DEPLOYED if instance.baseline_id else AppInstance.State.EMPTY
    touched = release.steps.exclude(state=ReleaseStep.State.PENDING).exists()
    if not touched:
        instance.target = None
    instance.save(update_fields=["state", "target", "updated_at"])


def release_start(*, actor: Actor, release: Release) -> Release:
    _authorize(actor, release, "start")
    with transaction.atomic():
        release, before = _begin(release)
        if release.state != S.PLANNED:
            raise wrong_state(release, _("start"))
        release.state, release.started_at = S.RUNNING, timezone.now()
        _save(release, "state", "started_at")
        transition(actor, release, kind="release.started", action="release.start", before=before,
                   message=_("Release started"))
        kick_on_commit(release.pk)
    return release


def release_confirm(*, actor: Actor, release: Release) -> Release:
    _authorize(actor, release, "confirm")
    with transaction.atomic():
        release, before = _begin(release)
        if release.state != S.WAITING:
            raise wrong_state(release, _("confirm"))
        step = _current_step(release)
        if step is not None and actor.user is not None:
            step.confirmed_by = actor.user
            step.save(update_fields=["confirmed_by"])
        release.state = S.RUNNING
        _save(release, "state")
        transition(actor, release, kind="release.confirmed", action="release.confirm", before=before,
                   message=_("Step %(n)s confirmed") % {"n": release.current_step + 1})
        kick_on_commit(release.pk)
    return release


def release_pause(*, actor: Actor, release: Release, reason: str = "") -> Release:
    reason = _reason(reason)
    _authorize(actor, release, "pause")
    with transaction.atomic():
        release, before = _begin(release)
        if release.state == S.PAUSED or (release.state == S.RUNNING and release.pause_requested):
            return release
        if release.state == S.RUNNING:
            release.pause_requested, release.reason = True, reason
            _save(release, "pause_requested", "reason")
            transition(actor, release, kind="release.pause_requested", action="release.pause", before=before,
                       reason=reason, extra={"pause_requested": True},
                       message=_("Pause requested: the release stops after the pod in hand"))
            kick_on_commit(release.pk)
        elif release.state == S.WAITING:
            release.state, release.reason = S.PAUSED, reason
            _save(release, "state", "reason")
            transition(actor, release, kind="release.paused", action="release.pause", before=before, reason=reason,
                       message=_("Release paused"))
        else:
            raise wrong_state(release, _("pause"))
    return release


def release_resume(*, actor: Actor, release: Release) -> Release:
    _authorize(actor, release, "resume")
    with transaction.atomic():
        release, before = _begin(release)
        if release.state == S.RUNNING and release.pause_requested:
            release.pause_requested, release.reason = False, ""
            _save(release, "pause_requested", "reason")
            transition(actor, release, kind="release.resumed", action="release.resume", before=before,
                       extra={"pause_requested": False}, message=_("Pending pause withdrawn"))
            return release
        if release.state != S.PAUSED:
            raise wrong_state(release, _("resume"))
        step = _current_step(release)
        awaiting = step is not None and step.state == ReleaseStep.State.WAITING
        release.state = S.WAITING if awaiting else S.RUNNING
        release.pause_requested, release.reason = False, ""
        _save(release, "state", "pause_requested", "reason")
        transition(actor, release, kind="release.resumed", action="release.resume", before=before,
                   message=_("Release resumed"))
        if not awaiting:
            kick_on_commit(release.pk)
    return release


def release_abort(*, actor: Actor, release: Release, reason: str = "") -> Release:
    reason = _reason(reason)
    _authorize(actor, release, "abort")
    with transaction.atomic():
        release, before = _begin(release)
        if release.state == S.ABORTED or (release.state in Release.DRIVEN_STATES and release.abort_requested):
            return release
        if release.state in Release.DRIVEN_STATES:
            release.abort_requested, release.reason = True, reason
            _save(release, "abort_requested", "reason")
            transition(actor, release, kind="release.abort_requested", action="release.abort", before=before,
                       reason=reason, extra={"abort_requested": True},
                       message=_("Abort requested: the release stops where it is"))
            kick_on_commit(release.pk)
        elif release.state in (S.PLANNED, S.WAITING, S.PAUSED):
            release.state, release.reason, release.finished_at = S.ABORTED, reason, timezone.now()
            release.pause_requested = False
            _save(release, "state", "reason", "finished_at", "pause_requested")
            release.steps.filter(state=ReleaseStep.State.WAITING).update(state=ReleaseStep.State.CANCELLED)
            _instance_settled(release)
            transition(actor, release, kind="release.aborted", action="release.abort", before=before, reason=reason,
                       message=_("Release aborted: every pod stays on the revision it has"))
        else:
            raise wrong_state(release, _("abort"))
    return release


def _newer_exists(release: Release) -> bool:
    return Release.objects.filter(instance_id=release.instance_id, number__gt=release.number).exists()


def release_rollback(*, actor: Actor, release: Release, reason: str = "") -> Release:
    reason = _reason(reason)
    _authorize(actor, release, "rollback")
    with transaction.atomic():
        release, before = _begin(release)
        if release.state in (S.ROLLING_BACK, S.ROLLED_BACK) or (release.state == S.RUNNING
                                                                 and release.rollback_requested):
            return release
        if release.state == S.RUNNING:
            release.rollback_requested, release.reason = True, reason
            _save(release, "rollback_requested", "reason")
            transition(actor, release, kind="release.rollback_requested", action="release.rollback", before=before,
                       reason=reason, extra={"rollback_requested": True},
                       message=_("Rollback requested: the release returns every pod to the baseline"))
            kick_on_commit(release.pk)
            return release
        if release.state not in (S.WAITING, S.PAUSED, S.FAILED, S.ABORTED, S.SUCCEEDED):
            raise wrong_state(release, _("roll back"))
        if _newer_exists(release):
            raise Conflict(_("state: a newer release of this instance exists; roll back that one instead"),
                           field="state", code="newer_release")
        instance = AppInstance.objects.select_for_update().get(pk=release.instance_id)
        if release.state == S.SUCCEEDED and instance.baseline_id != release.target_id:
            raise Conflict(_("state: revision %(n)s is no longer the instance's baseline")
                           % {"n": release.target.number}, field="state", code="baseline_moved")
        release.state, release.rollback_requested, release.reason = S.ROLLING_BACK, True, reason
        release.pause_requested = release.abort_requested = False
        release.finished_at = None
        _save(release, "state", "rollback_requested", "reason", "pause_requested", "abort_requested", "finished_at")
        release.steps.filter(state=ReleaseStep.State.WAITING).update(state=ReleaseStep.State.CANCELLED)
        instance.target, instance.state = release.baseline, AppInstance.State.RELEASING
        instance.save(update_fields=["target", "state", "updated_at"])
        transition(actor, release, kind="release.rollback_started", action="release.rollback", before=before,
                   reason=reason, message=_("Rolling back to revision %(n)s") % {"n": release.baseline.number})
        kick_on_commit(release.pk)
    return release
