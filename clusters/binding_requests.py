"""Binding requests: a tenant asks for an environment to run on a cell or cluster, a
platform operator decides (the same shape as tenants.quota_requests).

Binding an environment is an operator's act (services.environment_bind), so tenants
never bind themselves. Members who may manage applications (developers, admins,
owners) file a request for one environment and one cell or cluster with a reason; an
operator approves it, which creates the binding through environment_bind in the same
transaction, or rejects it with a comment. The tenant may cancel while it is pending.
At most one request per environment and target is pending at a time (409 otherwise).
Every transition is audited and pushed to the tenant's live-event group, which also
reaches operators who can see the tenant.
"""
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.audit.services import audit_record
from paas.errors import Conflict, DomainError
from paas.permissions import authorize, authorize_platform
from paas.realtime import emit

from . import services
from .models import BindingRequest, Cell, Cluster, EnvironmentBinding

REQUEST = "manage_applications"  # tenant permission to ask (and cancel)
DECIDE = "clusters.add_environmentbinding"  # platform permission to approve or reject


def _notify(request: BindingRequest, kind: str) -> None:
    emit.to_tenant(request.environment.tenant_id, {
        "type": kind, "tenant": request.environment.tenant.slug, "environment": request.environment.slug,
        "request": request.pk, "state": request.state, "name": str(request.target)})


def _clean_text(value: str, field: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise DomainError(_("Say why; the other side reads this."), field=field)
    if len(text) > BindingRequest.MAX_REASON:
        raise DomainError(_("At most %(max)d characters.") % {"max": BindingRequest.MAX_REASON}, field=field)
    return text


def _locked_pending(request: BindingRequest) -> BindingRequest:
    row = (BindingRequest.objects.select_for_update(of=("self",))
           .select_related("environment__tenant", "cell", "cluster").get(pk=request.pk))
    if not row.is_pending:
        raise Conflict(_("This request is already %(state)s.") % {"state": row.get_state_display().lower()},
                       field="state")
    return row


def binding_request_create(*, actor: Actor, environment, reason: str, cell: Cell | None = None,
                           cluster: Cluster | None = None) -> BindingRequest:
    """Ask for `environment` to be bound to a cell (all its clusters) or to one cluster."""
    authorize(actor, REQUEST, environment, action="cluster.binding_request.create")
    if (cell is None) == (cluster is None):
        raise DomainError(_("Ask for either a cell or a cluster."), field="target")
    reason = _clean_text(reason, "reason", required=True)
    if EnvironmentBinding.objects.filter(environment=environment, cell=cell, cluster=cluster).exists():
        raise Conflict(_("%(environment)s is already bound to %(target)s.")
                       % {"environment": environment, "target": cell or cluster}, field="target")
    request = BindingRequest(environment=environment, cell=cell, cluster=cluster, reason=reason,
                             requested_by=actor.user)
    with transaction.atomic():
        try:
            with transaction.atomic():  # the partial unique constraints catch a second pending request
                request.save()
        except IntegrityError:
            raise Conflict(_("A request to bind %(environment)s to %(target)s is already pending.")
                           % {"environment": environment, "target": cell or cluster}, field="target") from None
        audit_record(actor=actor, action="cluster.binding_request.create", target=request,
                     after=request.audit_fields())
        _notify(request, "binding_request.created")
    return request


def binding_request_cancel(*, actor: Actor, request: BindingRequest) -> BindingRequest:
    authorize(actor, REQUEST, request.environment, action="cluster.binding_request.cancel")
    with transaction.atomic():
        request = _locked_pending(request)
        _decide(actor, request, BindingRequest.State.CANCELLED, "", verb="cancel")
    return request


def binding_request_approve(*, actor: Actor, request: BindingRequest, comment: str = "") -> BindingRequest:
    """Create the binding (through environment_bind, like any operator binding) and close the request."""
    authorize_platform(actor, DECIDE, request, action="cluster.binding_request.approve")
    comment = _clean_text(comment, "comment", required=False)
    with transaction.atomic():
        request = _locked_pending(request)
        services.environment_bind(actor=actor, environment=request.environment, cell=request.cell,
                                  cluster=request.cluster)
        _decide(actor, request, BindingRequest.State.APPROVED, comment, verb="approve")
    return request


def binding_request_reject(*, actor: Actor, request: BindingRequest, comment: str) -> BindingRequest:
    authorize_platform(actor, DECIDE, request, action="cluster.binding_request.reject")
    comment = _clean_text(comment, "comment", required=True)
    with transaction.atomic():
        request = _locked_pending(request)
        _decide(actor, request, BindingRequest.State.REJECTED, comment, verb="reject")
    return request


def _decide(actor: Actor, request: BindingRequest, state: str, comment: str, *, verb: str) -> None:
    request.state, request.comment = state, comment
    request.decided_by, request.decided_at = actor.user, timezone.now()
    request.save()
    audit_record(actor=actor, action=f"cluster.binding_request.{verb}", target=request,
                 before={"state": BindingRequest.State.PENDING}, after={"state": state, "comment": comment})
    _notify(request, f"binding_request.{state}")
