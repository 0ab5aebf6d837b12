"""Quota pages: per-environment limits in human units; operators edit them, the
tenant asks for more (tenants.quota_requests) and sees what became of its requests."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from paas.errors import DomainError
from paas.permissions import NotPermitted, authorize_platform, can_platform
from paas.web.forms import add_domain_error
from tenants import services
from tenants.forms import QuotaForm
from tenants.models import QuotaRequest
from tenants.selectors import quota_requests_visible_to, quotas_visible_to

from ._common import environment_order, load_tenant, paginate, tenant_context


def _ordered(quotas):
    return quotas.alias(env_rank=environment_order("environment__kind")).order_by("env_rank", "environment__slug")


def quota_for(actor, tenant, env):
    quota = quotas_visible_to(actor).filter(tenant=tenant, environment__slug=env).first()
    if quota is None:
        raise Http404("No such environment.")
    return quota


@login_required
def quota_list(request, slug):
    actor, tenant = load_tenant(request, slug)
    quotas = list(_ordered(quotas_visible_to(actor).filter(tenant=tenant)))
    totals = {name: sum(getattr(q, name) for q in quotas) for name in services.QUOTA_FIELDS}
    requests = quota_requests_visible_to(actor).filter(tenant=tenant)
    pending = {r.environment_id: r for r in requests.filter(state=QuotaRequest.State.PENDING)}
    rows = [(q, pending.get(q.environment_id)) for q in quotas]
    context = tenant_context(actor, tenant, "quotas")
    context.update({"rows": rows, "quotas": quotas, "totals": totals, "requests": paginate(request, requests),
                    "can_set_quota": can_platform(actor, services.SET_QUOTA)})
    return render(request, "tenants/quotas.html", context)


@login_required
def quota_edit(request, slug, env):
    """Operators only: the quota is the platform's ceiling on the tenant."""
    actor, tenant = load_tenant(request, slug)
    quota = quota_for(actor, tenant, env)
    if request.method == "POST":
        authorize_platform(actor, services.SET_QUOTA, quota, action="tenant.quota.update")
    elif not can_platform(actor, services.SET_QUOTA):
        raise NotPermitted(_("Only platform operators set quotas; ask for more with a quota request."))
    form = QuotaForm.for_quota(quota, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.quota_update(actor=actor, quota=quota, **form.service_values())
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Quotas of “%(env)s” saved.") % {"env": quota.environment.name})
            return redirect("tenants:quotas", slug=tenant.slug)
    context = tenant_context(actor, tenant, "quotas")
    context.update({"form": form, "quota": quota, "environment": quota.environment})
    return render(request, "tenants/quota_form.html", context)
