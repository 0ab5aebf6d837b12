"""What every release service shares: who may release where, the row lock, and recording a
transition (numbered ReleaseEvent + audit event, in the caller's transaction)."""
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.audit.services import audit_record
from paas.errors import Conflict
from paas.permissions import authorize
from tenants.models import Environment

from .. import events
from ..models import Release

PROTECTED_KINDS = (Environment.Kind.PRE, Environment.Kind.PROD)


def needs_protected(environment) -> bool:
    return environment.kind in PROTECTED_KINDS


def authorize_release(actor: Actor, environment, *, action: str) -> None:
    """release_application on the environment; pre and prod also release_protected."""
    authorize(actor, "release_application", environment, action=action)
    if needs_protected(environment):
        authorize(actor, "release_protected", environment, action=action)


def may_release(actor: Actor, environment) -> bool:
    from paas.permissions import can

    return can(actor, "release_application", environment) and (
        not needs_protected(environment) or can(actor, "release_protected", environment))


def locked(release: Release) -> Release:
    """The release row again, locked until the transaction ends (select_for_update)."""
    return (Release.objects.select_for_update(of=("self",))
            .select_related("instance__application__tenant", "environment__tenant", "baseline", "target", "tenant")
            .get(pk=release.pk))


def wrong_state(release: Release, action: str) -> Conflict:
    return Conflict(_("state: cannot %(action)s a release that is %(state)s")
                    % {"action": action, "state": release.get_state_display().lower()},
                    field="state", code="wrong_state")


def transition(actor: Actor, release: Release, *, kind: str, action: str, message: str, before: dict,
               reason: str = "", step: int | None = None, extra: dict | None = None) -> None:
    """Record what just happened to `release` (already saved): event + audit. `extra` goes into
    the audit record (e.g. the flag an action set for the executor)."""
    data = {"state": release.state, "step": release.current_step if step is None else step}
    if reason:
        data["reason"] = reason
    events.record(release, kind, message, actor=actor, data=data)
    after = release.audit_fields()
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    audit_record(actor=actor, action=action, target=release, tenant=release.tenant,
                 before={k: before.get(k) for k in changed} or None,
                 after={**changed, **(extra or {}), **({"reason": reason} if reason else {})} or {"state": release.state})
