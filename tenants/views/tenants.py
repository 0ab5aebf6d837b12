"""Tenant pages: list, create (operators), overview, edit, archive/reactivate."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from paas.actors import Actor
from paas.audit.selectors import audit_events_visible_to
from paas.errors import DomainError
from paas.permissions import NotPermitted, can_create_tenant
from paas.web.forms import add_domain_error
from tenants import services
from tenants.forms import TenantCreateForm, TenantEditForm
from tenants.selectors import (
    environments_visible_to,
    memberships_visible_to,
    tenants_visible_to,
    tokens_visible_to,
)

from ._common import ensure, environment_order, load_tenant, paginate, tenant_context

RECENT_EVENTS = 6


@login_required
def tenant_list(request):
    actor = Actor.from_request(request)
    tenants = tenants_visible_to(actor).annotate(
        env_count=Count("environments", distinct=True), member_count=Count("memberships", distinct=True))
    query = request.GET.get("q", "").strip()
    if query:
        tenants = tenants.filter(Q(name__icontains=query) | Q(slug__icontains=query))
    status = request.GET.get("status", "")
    if status in {"active", "archived"}:
        tenants = tenants.filter(is_active=status == "active")
    page = paginate(request, tenants.order_by("-is_active", "name"))
    roles = dict(memberships_visible_to(actor).filter(user=request.user, tenant__in=[t.pk for t in page])
                 .values_list("tenant_id", "role"))
    for tenant in page:
        tenant.my_role = roles.get(tenant.pk)
    return render(request, "tenants/list.html", {
        "page_obj": page, "query": query, "status": status, "can_create_tenant": can_create_tenant(actor),
        "filtered": bool(query or status),
    })


@login_required
def tenant_create(request):
    actor = Actor.from_request(request)
    if not can_create_tenant(actor):
        if request.method == "POST":
            # The service refuses before anything else and records the denied attempt.
            services.tenant_create(actor=actor, name="", slug=request.POST.get("slug", "")[:40])
        raise NotPermitted(_("Only platform operators can create tenants."))
    form = TenantCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            owner = services.resolve_user(data["owner"]) if data["owner"] else None
            tenant = services.tenant_create(
                actor=actor, name=data["name"], slug=data["slug"], description=data["description"],
                owner=owner, default_environments=data["default_environments"])
        except DomainError as exc:
            add_domain_error(form, exc, {"user": "owner"})
        else:
            messages.success(request, _("Tenant “%(name)s” was created.") % {"name": tenant.name})
            return redirect(tenant)
    return render(request, "tenants/tenant_form.html", {"form": form, "creating": True})


@login_required
def tenant_detail(request, slug):
    actor, tenant = load_tenant(request, slug)
    context = tenant_context(actor, tenant, "overview")
    now = timezone.now()
    context.update({
        "environments": environments_visible_to(actor).filter(tenant=tenant).order_by(environment_order(), "slug"),
        "member_count": memberships_visible_to(actor).filter(tenant=tenant).count(),
        "token_count": tokens_visible_to(actor).filter(tenant=tenant, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).count(),
        "recent_events": list(audit_events_visible_to(actor).filter(tenant_id=tenant.pk)[:RECENT_EVENTS])
        if context["tperms"]["view_audit"] else [],
    })
    return render(request, "tenants/detail.html", context)


@login_required
def tenant_edit(request, slug):
    actor, tenant = load_tenant(request, slug)
    ensure(request, actor, "change_tenant", tenant, action="tenant.update")
    form = TenantEditForm.for_tenant(tenant, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.tenant_update(actor=actor, tenant=tenant, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Tenant details saved."))
            return redirect(tenant)
    context = tenant_context(actor, tenant, "settings")
    context.update({"form": form, "creating": False})
    return render(request, "tenants/tenant_form.html", context)


def _set_active(request, slug, active: bool):
    actor, tenant = load_tenant(request, slug)
    try:
        tenant = services.tenant_update(actor=actor, tenant=tenant, is_active=active)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if active:
            messages.success(request, _("“%(name)s” is active again.") % {"name": tenant.name})
        else:
            messages.warning(request, _("“%(name)s” has been archived and is now read-only.") % {"name": tenant.name})
    return redirect(tenant)


@login_required
@require_POST
def tenant_archive(request, slug):
    return _set_active(request, slug, False)


@login_required
@require_POST
def tenant_reactivate(request, slug):
    return _set_active(request, slug, True)
