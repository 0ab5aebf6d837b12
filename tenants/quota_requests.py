"""Quota requests: a tenant asks for other limits, a platform operator decides.

The quota is the platform's ceiling on a tenant, so tenants never set it
themselves (tenants.services.quota_update is operator-only). Holders of the
tenant permission `request_quota` (owners, admins) file a request for one
environment with a reason; an operator approves it, which applies the limits
through quota_update in the same transaction (re-validated against the quota as
it is then), or rejects it with a comment. The tenant may cancel while it is
pending. At most one request per environment is pending at a time: a second one
answers 409 until the first is decided or cancelled (no silent superseding, so an
operator never approves something other than what the tenant last asked for).

Every transition is audited and pushed to the tenant's live-event group; the
tenant's group also reaches operators who can see the tenant (global view_tenant).
"""
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.audit.services import audit_record
from paas.errors import Conflict, DomainError
from paas.permissions import authorize, authorize_platform
from paas.realtime import emit

from .models import Environment, Quota, QuotaRequest
from .services import SET_QUOTA, quota_check_values, quota_update


def _notify(actor: Actor, request: QuotaRequest, kind: str) -> None:
    emit.to_tenant(request.tenant_id, {
        "type": kind, "tenant": request.tenant.slug, "environment": request.environment.slug,
        "request": request.pk, "state": request.state, "actor": emit.actor_name(actor),
    })


def _clean_text(value: str, field: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise DomainError(_("Say why; the other side reads this."), field=field)
    if len(text) > QuotaRequest.MAX_REASON:
        raise DomainError(_("At most %(max)d characters.") % {"max": QuotaRequest.MAX_REASON}, field=field)
    return text


def _locked_pending(request: QuotaRequest) -> QuotaRequest:
    row = (QuotaRequest.objects.select_for_update().select_related("tenant", "environment")
           .get(pk=request.pk))
    if not row.is_pending:
        raise Conflict(_("This request is already %(state)s.") % {"state": row.get_state_display().lower()},
                       field="state")
    return row


def quota_request_create(*, actor: Actor, environment: Environment, reason: str, **values) -> QuotaRequest:
    """Ask for new limits on one environment; fields not given keep their current value."""
    authorize(actor, "request_quota", environment, action="tenant.quota_request.create")
    reason = _clean_text(reason, "reason", required=True)
    with transaction.atomic():
        quota = Quota.objects.select_for_update().get(environment=environment)
        current = quota.audit_fields()
        request = QuotaRequest(tenant=environment.tenant, environment=environment, reason=reason,
                               previous=current, requested_by=actor.user, **current)
        quota_check_values(request, {k: v for k, v in values.items() if v is not None})
        if request.requested_values() == current:
            raise DomainError(_("This is the current quota; change at least one limit."))
        if QuotaRequest.objects.filter(environment=environment, state=QuotaRequest.State.PENDING).exists():
            raise Conflict(_("%(environment)s already has a pending quota request; cancel it or wait for "
                             "the decision.") % {"environment": environment}, field="environment")
        try:
            with transaction.atomic():  # the constraint catches a concurrent second request
                request.save()
        except IntegrityError:
            raise Conflict(_("%(environment)s already has a pending quota request.")
                           % {"environment": environment}, field="environment") from None
        audit_record(actor=actor, action="tenant.quota_request.create", target=request,
                     after=request.audit_fields())
        _notify(actor, request, "quota_request.created")
    return request


def quota_request_cancel(*, actor: Actor, request: QuotaRequest) -> QuotaRequest:
    """Withdraw a pending request (anyone in the tenant who may request quotas)."""
    authorize(actor, "request_quota", request, action="tenant.quota_request.cancel")
    with transaction.atomic():
        request = _locked_pending(request)
        request.state = QuotaRequest.State.CANCELLED
        request.decided_by = actor.user
        request.decided_at = timezone.now()
        request.save()
        audit_record(actor=actor, action="tenant.quota_request.cancel", target=request,
                     before={"state": QuotaRequest.State.PENDING}, after={"state": request.state})
        _notify(actor, request, "quota_request.cancelled")
    return request


def quota_request_approve(*, actor: Actor, request: QuotaRequest, comment: str = "") -> QuotaRequest:
    """Apply the requested limits (through quota_update, like any operator change) and close the request."""
    authorize_platform(actor, SET_QUOTA, request, action="tenant.quota_request.approve")
    comment = _clean_text(comment, "comment", required=False)
    with transaction.atomic():
        request = _locked_pending(request)
        quota = Quota.objects.get(environment=request.environment)
        # Only the limits the tenant asked to change: another limit an operator changed
        # meanwhile stays as it is. Re-validated against the quota as it is now (e.g. cpuset
        # cores against a CPU quota lowered since); a DomainError rolls the approval back.
        quota_update(actor=actor, quota=quota, **{name: asked for name, _was, asked in request.changes()})
        _decide(actor, request, QuotaRequest.State.APPROVED, comment)
    return request


def quota_request_reject(*, actor: Actor, request: QuotaRequest, comment: str) -> QuotaRequest:
    authorize_platform(actor, SET_QUOTA, request, action="tenant.quota_request.reject")
    comment = _clean_text(comment, "comment", required=True)
    with transaction.atomic():
        request = _locked_pending(request)
        _decide(actor, request, QuotaRequest.State.REJECTED, comment)
    return request


def _decide(actor: Actor, request: QuotaRequest, state: str, comment: str) -> None:
    request.state = state
    request.comment = comment
    request.decided_by = actor.user
    request.decided_at = timezone.now()
    request.save()
    verb = "approve" if state == QuotaRequest.State.APPROVED else "reject"
    audit_record(actor=actor, action=f"tenant.quota_request.{verb}", target=request,
                 before={"state": QuotaRequest.State.PENDING}, after={"state": state, "comment": comment})
    _notify(actor, request, f"quota_request.{state}")
