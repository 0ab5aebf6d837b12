"""The one place that answers "may this actor do X to Y".

Pages, API views, admin and WebSocket consumers all call `can()` / `authorize()`.
A permission is a codename from tenants.roles.TENANT_PERMISSIONS. It is granted:
- on the tenant, through the member's role (guardian object permission on Tenant);
- or on one object only (guardian object permission with the same codename on
  that object's model), e.g. one developer may release just one application;
- or platform-wide to operators (a global `tenants.<codename>` model permission).
An API token never grants more than its user has, is limited to its own tenant,
and a read-only token keeps only the read permissions.
"""
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext

from paas.actors import Actor
from tenants.roles import READ_ONLY_PERMISSIONS, TENANT_PERMISSIONS


class NotPermitted(PermissionDenied):
    """Raised by `authorize`; its message is safe to show to the user."""


def tenant_of(obj):
    from tenants.models import Tenant

    if isinstance(obj, Tenant):
        return obj
    return getattr(obj, "tenant", None)


def _object_codename(obj, codename: str) -> str | None:
    """'app_label.codename' if the object's own model defines this permission."""
    meta = obj._meta
    own = {c for c, _ in meta.permissions} | {f"{a}_{meta.model_name}" for a in meta.default_permissions}
    return f"{meta.app_label}.{codename}" if codename in own else None


def can(actor: Actor, codename: str, obj) -> bool:
    if codename not in TENANT_PERMISSIONS:
        raise ValueError(f"Unknown permission {codename!r}")
    if actor.is_system:
        return True
    user = actor.user
    if user is None or not user.is_active:
        return False
    tenant = tenant_of(obj)
    if actor.token is not None:
        if not actor.token.is_usable or tenant is None or tenant.pk != actor.token.tenant_id:
            return False
        if actor.token.scope == actor.token.Scope.READ and codename not in READ_ONLY_PERMISSIONS:
            return False
    if user.is_superuser:
        return True
    # Archived tenants are read-only, except that whoever may change the tenant may reactivate it.
    if tenant is not None and not tenant.is_active and codename not in READ_ONLY_PERMISSIONS | {"change_tenant"}:
        return False
    if obj is not tenant:
        own = _object_codename(obj, codename)
        if own and user.has_perm(own, obj):
            return True
    if tenant is None:
        return False
    # guardian: per-tenant grant from the role; ModelBackend: operator-wide grant.
    return user.has_perm(f"tenants.{codename}", tenant) or user.has_perm(f"tenants.{codename}")


def authorize(actor: Actor, codename: str, obj, *, action: str) -> None:
    """Raise NotPermitted (after recording the denied attempt) unless `can()`."""
    if can(actor, codename, obj):
        return
    from paas.audit.services import audit_record

    audit_record(
        actor=actor, action=action, target=obj, tenant=tenant_of(obj),
        outcome="denied", reason=f"missing permission {codename}",
    )
    raise NotPermitted(_denied_message(actor, codename))


def _denied_message(actor: Actor, codename: str) -> str:
    if actor.token is not None and actor.token.scope == actor.token.Scope.READ:
        return gettext("This API token is read-only.")
    return gettext("You do not have the permission '%(codename)s' here.") % {"codename": codename}


def can_platform(actor: Actor, perm: str) -> bool:
    """Platform-wide operator permissions (cluster registry, switches): a global
    Django permission such as 'clusters.cordon_cluster'. API tokens are bound to a
    tenant and never carry platform permissions."""
    if actor.is_system:
        return True
    if actor.token is not None or actor.user is None or not actor.user.is_active:
        return False
    return actor.user.has_perm(perm)


def authorize_platform(actor: Actor, perm: str, target, *, action: str) -> None:
    if can_platform(actor, perm):
        return
    from paas.audit.services import audit_record

    audit_record(actor=actor, action=action, target=target, outcome="denied", reason=f"missing permission {perm}")
    raise NotPermitted("Only platform operators may do this.")


def can_create_tenant(actor: Actor) -> bool:
    """Creating tenants is an operator action (platform-wide add_tenant permission)."""
    if actor.is_system:
        return True
    if actor.token is not None or actor.user is None or not actor.user.is_active:
        return False
    return actor.user.has_perm("tenants.add_tenant")
