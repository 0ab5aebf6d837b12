"""What the release pages share: loading a release the actor may see (another tenant's is a
404, as a missing one) and which action buttons to show (releases.selectors decides; the
services check again when a button is used)."""
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.permissions import NotPermitted, authorize
from tenants.context_processors import SESSION_KEY

from . import selectors
from .models import Release
from .selectors import ACTIONS, releases_visible_to
from .services._common import PROTECTED_KINDS, may_release

__all__ = ["ACTIONS", "ACTION_STATES", "PROTECTED_KINDS", "allowed_actions", "ensure_may_release", "load",
           "may_release", "releases_visible_to"]

S = Release.State
# The states in which each button may apply, for release-live.js to show and hide them when an
# event changes the state (the server's answer at page load is exact: allowed_actions).
ACTION_STATES = {
    "start": (S.PLANNED,),
    "confirm": (S.WAITING,),
    "pause": (S.RUNNING, S.WAITING),
    "resume": (S.PAUSED,),
    "abort": (S.PLANNED, S.RUNNING, S.WAITING, S.PAUSED, S.ROLLING_BACK),
    "rollback": (S.RUNNING, S.WAITING, S.PAUSED, S.FAILED, S.ABORTED, S.SUCCEEDED),
}


def load(request, pk) -> tuple[Actor, Release]:
    """The release if visible (else 404); its tenant becomes the switcher's current one."""
    actor = Actor.from_request(request)
    release = selectors.release_get(actor, pk)
    if request.session.get(SESSION_KEY) != release.tenant.slug:
        request.session[SESSION_KEY] = release.tenant.slug
    return actor, release


def ensure_may_release(request, actor: Actor, environment, *, action: str) -> None:
    """403 up front for whoever may not release here. A POST is recorded as denied first, outside
    the service's transaction (a refusal raised inside it would roll its own audit row back)."""
    if may_release(actor, environment):
        return
    if request.method == "POST":
        authorize(actor, "release_application", environment, action=action)
        authorize(actor, "release_protected", environment, action=action)
    raise NotPermitted(_("Your role does not allow releasing to %(env)s.") % {"env": environment.name})


def allowed_actions(actor: Actor, release: Release) -> list[str]:
    """Actions whose button this actor sees now (state, flags and permission)."""
    return [action for action, allowed in selectors.available_actions(actor, release).items() if allowed]
