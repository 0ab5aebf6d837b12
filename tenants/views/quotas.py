"""Quota pages: per-environment limits in human units, and their edit form."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from paas.errors import DomainError
from paas.web.forms import add_domain_error
from tenants import services
from tenants.forms import QuotaForm
from tenants.selectors import quotas_visible_to

from ._common import ensure, environment_order, load_tenant, tenant_context


def _ordered(quotas):
    return quotas.alias(env_rank=environment_order("environment__kind")).order_by("env_rank", "environment__slug")


@login_required
def quota_list(request, slug):
    actor, tenant = load_tenant(request, slug)
    quotas = list(_ordered(quotas_visible_to(actor).filter(tenant=tenant)))
    totals = {name: sum(getattr(q, name) for q in quotas) for name in services.QUOTA_FIELDS}
    context = tenant_context(actor, tenant, "quotas")
    context.update({"quotas": quotas, "totals": totals})
    return render(request, "tenants/quotas.html", context)


@login_required
def quota_edit(request, slug, env):
    actor, tenant = load_tenant(request, slug)
    quota = quotas_visible_to(actor).filter(tenant=tenant, environment__slug=env).first()
    if quota is None:
        raise Http404("No such environment.")
    ensure(request, actor, "manage_quotas", quota, action="tenant.quota.update")
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
