"""Audit reads: an auditor (or owner/admin) sees the events of their tenants only;
operators with the platform-wide view_audit permission see everything."""
from django.db.models import QuerySet

from paas.actors import Actor

from .access import has_global_audit
from .models import AuditEvent


def audit_events_visible_to(actor: Actor) -> QuerySet[AuditEvent]:
    from tenants.selectors import tenants_with_permission

    if actor.is_system:
        return AuditEvent.objects.all()
    user = actor.user
    if user is None or not user.is_active:
        return AuditEvent.objects.none()
    if has_global_audit(actor):
        return AuditEvent.objects.all()
    tenant_ids = list(tenants_with_permission(actor, "view_audit").values_list("pk", flat=True))
    return AuditEvent.objects.filter(tenant_id__in=tenant_ids)
