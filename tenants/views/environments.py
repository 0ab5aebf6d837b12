"""Environment pages: create, edit, delete (listed on the tenant overview)."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from paas.errors import DomainError
from paas.web.forms import add_domain_error
from tenants import services
from tenants.forms import EnvironmentCreateForm, EnvironmentEditForm
from tenants.selectors import environment_get

from ._common import ensure, load_tenant, tenant_context


def _back(tenant):
    # No "#environments" anchor: the page must open at the top, where the message is.
    return redirect(tenant)


@login_required
def environment_create(request, slug):
    actor, tenant = load_tenant(request, slug)
    ensure(request, actor, "manage_environments", tenant, action="tenant.environment.create")
    form = EnvironmentCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            env = services.environment_create(actor=actor, tenant=tenant, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Environment “%(name)s” was created with default quotas.") % {"name": env.name})
            return _back(tenant)
    context = tenant_context(actor, tenant, "overview")
    context.update({"form": form, "creating": True})
    return render(request, "tenants/environment_form.html", context)


@login_required
def environment_edit(request, slug, env):
    actor, tenant = load_tenant(request, slug)
    environment = environment_get(actor, tenant, env)
    ensure(request, actor, "manage_environments", environment, action="tenant.environment.update")
    form = EnvironmentEditForm(request.POST or None, environment=environment)
    if request.method == "POST" and form.is_valid():
        try:
            services.environment_update(actor=actor, environment=environment, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Environment “%(name)s” saved.") % {"name": form.cleaned_data["name"]})
            return _back(tenant)
    context = tenant_context(actor, tenant, "overview")
    context.update({"form": form, "creating": False, "environment": environment})
    return render(request, "tenants/environment_form.html", context)


@login_required
@require_POST
def environment_delete(request, slug, env):
    actor, tenant = load_tenant(request, slug)
    environment = environment_get(actor, tenant, env)
    name = environment.name
    try:
        services.environment_delete(actor=actor, environment=environment)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Environment “%(name)s” was deleted.") % {"name": name})
    return _back(tenant)
