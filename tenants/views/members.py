"""Member pages: list, invite, change role (inline with htmx), remove."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from paas.errors import DomainError
from paas.permissions import can
from paas.web.forms import add_domain_error
from tenants import services
from tenants.forms import MemberInviteForm, MemberRoleForm, role_choices
from tenants.roles import Role
from tenants.selectors import memberships_visible_to

from ._common import ensure, is_htmx, load_tenant, paginate, tenant_context


def _membership(actor, tenant, pk):
    membership = memberships_visible_to(actor).filter(tenant=tenant, pk=pk).first()
    if membership is None:
        raise Http404("No such member.")
    return membership


def _row_context(context, membership):
    perms = context["tperms"]
    membership.can_change = perms["manage_members"] and (membership.role != Role.OWNER or perms["manage_owners"])
    return membership


def _render_members(request, actor, tenant, form, status=200):
    context = tenant_context(actor, tenant, "members")
    page = paginate(request, memberships_visible_to(actor).filter(tenant=tenant).order_by("user__username"))
    for membership in page:
        _row_context(context, membership)
    context.update({
        "page_obj": page, "form": form, "role_choices": role_choices(context["tperms"]["manage_owners"]),
        "roles": Role,
    })
    return render(request, "tenants/members.html", context, status=status)


@login_required
def member_list(request, slug):
    actor, tenant = load_tenant(request, slug)
    form = MemberInviteForm(allow_owner=can(actor, "manage_owners", tenant))
    return _render_members(request, actor, tenant, form)


@login_required
@require_POST
def member_add(request, slug):
    actor, tenant = load_tenant(request, slug)
    ensure(request, actor, "manage_members", tenant, action="tenant.member.add")
    form = MemberInviteForm(request.POST, allow_owner=can(actor, "manage_owners", tenant))
    if form.is_valid():
        identifier, role = form.cleaned_data["user"], form.cleaned_data["role"]
        try:
            # One answer whether or not the account exists (see services.member_invite).
            services.member_invite(actor=actor, tenant=tenant, identifier=identifier, role=role)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, services.member_invite_message(identifier, role))
            return redirect("tenants:members", slug=tenant.slug)
    return _render_members(request, actor, tenant, form, status=400)


@login_required
@require_POST
def member_change_role(request, slug, pk):
    actor, tenant = load_tenant(request, slug)
    membership = _membership(actor, tenant, pk)
    form = MemberRoleForm(request.POST)
    error = None
    if not form.is_valid():
        error = _("Choose a valid role.")
    else:
        try:
            membership = services.member_change_role(actor=actor, membership=membership, role=form.cleaned_data["role"])
        except DomainError as exc:
            error = exc.message
    if is_htmx(request):
        context = tenant_context(actor, tenant, "members")
        membership.refresh_from_db()
        context.update({"m": _row_context(context, membership), "row_error": error,
                        "row_saved": error is None, "role_choices": role_choices(context["tperms"]["manage_owners"])})
        return render(request, "tenants/_member_row.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("%(user)s now has the role %(role)s.") % {
            "user": membership.user.get_username(), "role": Role(membership.role).label})
    return redirect("tenants:members", slug=tenant.slug)


@login_required
@require_POST
def member_remove(request, slug, pk):
    actor, tenant = load_tenant(request, slug)
    membership = _membership(actor, tenant, pk)
    username = membership.user.get_username()
    try:
        services.member_remove(actor=actor, membership=membership)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("tenants:members", slug=tenant.slug)
    messages.success(request, _("%(user)s was removed from %(tenant)s; their API tokens for it were revoked.")
                     % {"user": username, "tenant": tenant.name})
    if membership.user_id == request.user.pk:
        return redirect("dashboard")
    return redirect("tenants:members", slug=tenant.slug)
