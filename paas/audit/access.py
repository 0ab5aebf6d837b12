"""Who may open the audit trail at all (pages, API, admin).

Row scoping itself is `selectors.audit_events_visible_to`; this module answers the
question asked before it: does the actor hold view_audit anywhere? Someone who may
audit nothing gets a clear 403, not an empty table that looks like "no activity".
"""
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.permissions import NotPermitted


def has_global_audit(actor: Actor) -> bool:
    """Platform-wide auditors (system, superusers, operators with tenants.view_audit) see every event."""
    if actor.is_system:
        return True
    user = actor.user
    if actor.token is not None or user is None or not user.is_active:
        return False
    return user.is_superuser or user.has_perm("tenants.view_audit")


def auditable_tenants(actor: Actor) -> QuerySet:
    """Tenants whose audit trail the actor may read (for tenant pickers and export records)."""
    from tenants.models import Tenant
    from tenants.selectors import tenants_with_permission

    if actor.user is None and not actor.is_system:
        return Tenant.objects.none()
    return tenants_with_permission(actor, "view_audit").order_by("name")


def may_audit(actor: Actor) -> bool:
    return has_global_audit(actor) or auditable_tenants(actor).exists()


def ensure_may_audit(actor: Actor) -> None:
    if not may_audit(actor):
        raise NotPermitted(_(
            "You may not audit any tenant: the audit trail needs the view_audit permission "
            "(auditor, admin or owner role)."
        ))
