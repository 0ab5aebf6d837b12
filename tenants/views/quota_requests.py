"""Quota requests: a tenant's form to ask for other limits and to cancel, and the
operators' queue of requests across tenants with approve / reject."""
import django_filters
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from paas.actors import Actor
from paas.errors import DomainError
from paas.permissions import NotPermitted, authorize_platform, can_platform
from paas.web.forms import add_domain_error
from tenants import quota_requests as service
from tenants.forms import QuotaDecisionForm, QuotaRequestForm
from tenants.models import QuotaRequest
from tenants.selectors import quota_request_get, quota_requests_visible_to
from tenants.services import SET_QUOTA

from ._common import ensure, load_tenant, paginate, tenant_context
from .quotas import quota_for


@login_required
def quota_request_create(request, slug, env):
    actor, tenant = load_tenant(request, slug)
    quota = quota_for(actor, tenant, env)
    ensure(request, actor, "request_quota", quota.environment, action="tenant.quota_request.create")
    initial = QuotaRequestForm.for_quota(quota).initial
    form = QuotaRequestForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            service.quota_request_create(actor=actor, environment=quota.environment,
                                         reason=form.cleaned_data["reason"], **form.service_values())
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Request sent; platform operators will decide on it."))
            return redirect("tenants:quotas", slug=tenant.slug)
    pending = quota_requests_visible_to(actor).filter(environment=quota.environment,
                                                      state=QuotaRequest.State.PENDING).first()
    context = tenant_context(actor, tenant, "quotas")
    context.update({"form": form, "quota": quota, "environment": quota.environment, "pending": pending})
    return render(request, "tenants/quota_request_form.html", context)


@login_required
@require_POST
def quota_request_cancel(request, slug, pk):
    actor, tenant = load_tenant(request, slug)
    quota_request = quota_request_get(actor, pk, tenant=tenant)
    try:
        service.quota_request_cancel(actor=actor, request=quota_request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Quota request cancelled."))
    return redirect("tenants:quotas", slug=tenant.slug)


# --- platform operators --------------------------------------------------------

class QueueFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=QuotaRequest.State.choices, empty_label=gettext_lazy("Any state"))
    tenant = django_filters.CharFilter(field_name="tenant__slug", label=gettext_lazy("Tenant"))

    class Meta:
        model = QuotaRequest
        fields = ["state", "tenant"]


def _require_operator(request, actor, target, action):
    # Refused before any lookup, so a non-operator learns nothing about other tenants.
    if request.method == "POST":
        authorize_platform(actor, SET_QUOTA, target, action=action)
    elif not can_platform(actor, SET_QUOTA):
        raise NotPermitted(_("Only platform operators may do this."))


@login_required
def queue(request):
    actor = Actor.from_request(request)
    _require_operator(request, actor, None, "tenant.quota_request.list")
    data = request.GET.copy()
    data.setdefault("state", QuotaRequest.State.PENDING)
    filters = QueueFilter(data, queryset=quota_requests_visible_to(actor).order_by("created_at", "id"))
    return render(request, "tenants/quota_requests.html", {
        "filter": filters, "requests": paginate(request, filters.qs), "form": QuotaDecisionForm(),
    })


def _decide(request, pk, verb):
    actor = Actor.from_request(request)
    target = ("tenants.quotarequest", str(pk), "")
    _require_operator(request, actor, target, f"tenant.quota_request.{verb}")
    quota_request = quota_request_get(actor, pk)
    form = QuotaDecisionForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    try:
        if verb == "approve":
            service.quota_request_approve(actor=actor, request=quota_request, comment=comment)
        else:
            service.quota_request_reject(actor=actor, request=quota_request, comment=comment)
    except DomainError as exc:
        messages.error(request, f"{quota_request.environment}: {exc.message}")
    else:
        done = _("Approved: %(env)s has its new quota.") if verb == "approve" else _("Rejected the request of %(env)s.")
        messages.success(request, done % {"env": quota_request.environment})
    return redirect("tenants:quota-requests")


@login_required
@require_POST
def quota_request_approve(request, pk):
    return _decide(request, pk, "approve")


@login_required
@require_POST
def quota_request_reject(request, pk):
    return _decide(request, pk, "reject")
