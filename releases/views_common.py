"""What the release pages share: loading a release the actor may see (another tenant's is a
404, as a missing one), whether the actor may act on it, and which action each state allows.

The state table mirrors releases/services (the services decide; this only chooses which
buttons to show, and the buttons' forms post to those same services)."""
from django.http import Http404

from paas.actors import Actor
from paas.permissions import can
from tenants.context_processors import SESSION_KEY
from tenants.selectors import tenants_visible_to

from .models import Release

PROTECTED_KINDS = ("pre", "prod")

S = Release.State
# action -> states in which the services accept it (rollback after success: see may_roll_back_success).
ACTION_STATES = {
    "start": {S.PLANNED},
    "confirm": {S.WAITING},
    "pause": {S.RUNNING, S.WAITING},
    "resume": {S.PAUSED},
    "abort": {S.PLANNED, S.RUNNING, S.WAITING, S.PAUSED},
    "rollback": {S.RUNNING, S.WAITING, S.PAUSED, S.FAILED, S.ABORTED},
}
ACTIONS = tuple(ACTION_STATES)


def releases_visible_to(actor: Actor):
    return (Release.objects.filter(tenant__in=tenants_visible_to(actor))
            .select_related("tenant", "environment", "instance__application", "instance__environment",
                            "baseline", "target", "created_by"))


def release_get(actor: Actor, pk) -> Release:
    text = str(pk)
    if not text.isdigit() or len(text) > 18:
        raise Http404("No such release.")
    try:
        return releases_visible_to(actor).get(pk=int(text))
    except Release.DoesNotExist:
        raise Http404("No such release.") from None


def load(request, pk) -> tuple[Actor, Release]:
    """The release if visible (else 404); its tenant becomes the switcher's current one."""
    actor = Actor.from_request(request)
    release = release_get(actor, pk)
    if request.session.get(SESSION_KEY) != release.tenant.slug:
        request.session[SESSION_KEY] = release.tenant.slug
    return actor, release


def may_release(actor: Actor, environment) -> bool:
    """release_application on the environment, plus release_protected for pre and prod."""
    if not can(actor, "release_application", environment):
        return False
    return environment.kind not in PROTECTED_KINDS or can(actor, "release_protected", environment)


def may_roll_back_success(release: Release) -> bool:
    """After success, until a newer baseline is set: the target is still the instance's baseline
    and no later release of the instance exists."""
    if release.state != S.SUCCEEDED or release.instance.baseline_id != release.target_id:
        return False
    return not Release.objects.filter(instance_id=release.instance_id, number__gt=release.number).exists()


def allowed_actions(actor: Actor, release: Release) -> list[str]:
    """Actions whose button this actor sees now (state and permission)."""
    if not may_release(actor, release.environment):
        return []
    actions = [a for a, states in ACTION_STATES.items() if release.state in states]
    if may_roll_back_success(release):
        actions.append("rollback")
    return actions
