"""The quota warning of the federated-resource form, refreshed while the user edits
(htmx posts the form here; nothing is saved). Same permission as the form itself."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_POST

from tenants.views._common import ensure

from . import selectors
from .forms import FederatedResourceForm
from .templatetags.quota_usage_tags import impact_of_form
from .views import _resource, _scope

TEMPLATE = "federation/_quota_impact.html"


@login_required
@require_POST
def quota_impact_new(request, slug, env):
    actor, _tenant, environment = _scope(request, slug, env)
    ensure(request, actor, "manage_applications", environment, action="federation.resource.create")
    types = selectors.types_visible_to(actor).filter(enabled=True, namespaced=True)
    form = FederatedResourceForm(request.POST, types=types)
    impact = impact_of_form(form, environment=environment)
    return render(request, TEMPLATE, {"impact": impact, "environment": environment, "fragment": True})


@login_required
@require_POST
def quota_impact_edit(request, slug, env, pk):
    actor, _tenant, environment, resource = _resource(request, slug, env, pk)
    ensure(request, actor, "manage_applications", resource, action="federation.resource.update")
    form = FederatedResourceForm.for_resource(resource, request.POST)
    impact = impact_of_form(form, environment=environment, resource=resource)
    return render(request, TEMPLATE, {"impact": impact, "environment": environment, "resource": resource,
                                      "fragment": True})


@login_required
def quota_usage_fragment(request, slug, env):
    """The usage bars of one environment, re-fetched by the page when a live event says
    status changed (anyone who may see the environment; another tenant's is a 404)."""
    _actor, _tenant, environment = _scope(request, slug, env)
    return render(request, "tenants/_quota_usage_env.html", {"environment": environment})
