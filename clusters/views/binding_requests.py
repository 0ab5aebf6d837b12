"""Binding requests: tenant members ask for an environment to be bound to a cell or
cluster (instead of being told to ask an operator somewhere else); operators see the
queue across tenants and approve or reject with a comment."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clusters import binding_requests as service
from clusters import selectors
from clusters.forms import BindingDecisionForm, BindingRequestForm
from clusters.models import BindingRequest, Cell, Cluster
from paas.actors import Actor
from paas.errors import DomainError
from paas.permissions import can, can_platform
from paas.web.forms import add_domain_error
from tenants.selectors import environments_visible_to

from ._common import require_platform


def _requestable(actor):
    return [e for e in environments_visible_to(actor).order_by("tenant__slug", "slug")
            if can(actor, service.REQUEST, e)]


def _form(actor, data=None):
    cells, clusters = selectors.request_targets()
    return BindingRequestForm(data, environments=_requestable(actor), cells=cells, clusters=clusters)


@login_required
def binding_requests(request):
    """Requests the user may see; a request form for members who may ask; decisions for operators."""
    actor = Actor.from_request(request)
    state = request.GET.get("state", "pending" if can_platform(actor, service.DECIDE) else "")
    rows = selectors.binding_requests_visible_to(actor)
    if state in BindingRequest.State.values:
        rows = rows.filter(state=state)
    environments = _requestable(actor)
    return render(request, "clusters/binding_requests.html", {
        "requests": rows[:200], "state": state, "states": BindingRequest.State.choices,
        "form": _form(actor) if environments else None,
        "may_decide": can_platform(actor, service.DECIDE), "decision_form": BindingDecisionForm()})


@login_required
def binding_request_create(request):
    actor = Actor.from_request(request)
    form = _form(actor, request.POST or None)
    if request.method == "POST" and form.is_valid():
        environment = next(e for e in _requestable(actor) if e.pk == form.cleaned_data["environment"])
        kind, slug = form.target_parts()
        target = get_object_or_404(Cell if kind == "cell" else Cluster, slug=slug)
        try:
            service.binding_request_create(actor=actor, environment=environment, reason=form.cleaned_data["reason"],
                                           **{kind: target})
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Request sent; platform operators will decide on it."))
            return redirect("clusters:binding-requests")
    if not form.fields["environment"].choices:
        messages.error(request, _("You may not ask for bindings in any environment."))
        return redirect("clusters:binding-requests")
    return render(request, "clusters/binding_request_form.html", {"form": form})


def _get(actor, pk) -> BindingRequest:
    return get_object_or_404(selectors.binding_requests_visible_to(actor), pk=pk)


@login_required
@require_POST
def binding_request_decide(request, pk):
    actor = Actor.from_request(request)
    # Operators only, refused (and audited) before any lookup: others learn nothing about the request.
    require_platform(request, actor, "add_environmentbinding", action="cluster.binding_request.decide",
                     target=("clusters.bindingrequest", str(pk), ""))
    form = BindingDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose approve or reject."))
        return redirect("clusters:binding-requests")
    decide = (service.binding_request_approve if form.cleaned_data["decision"] == "approve"
              else service.binding_request_reject)
    try:
        decide(actor=actor, request=_get(actor, pk), comment=form.cleaned_data["comment"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Request approved: the binding exists.") if decide is
                         service.binding_request_approve else _("Request rejected."))
    return redirect("clusters:binding-requests")


@login_required
@require_POST
def binding_request_cancel(request, pk):
    actor = Actor.from_request(request)
    try:
        service.binding_request_cancel(actor=actor, request=_get(actor, pk))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Binding request cancelled."))
    return redirect("clusters:binding-requests")
