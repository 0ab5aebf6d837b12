"""Portal shell: dashboard, sign-in/out, tenant switcher and the
placeholder pages of sections that ship in a later release."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from paas.actors import Actor
from paas.audit.access import may_audit
from paas.audit.selectors import audit_events_visible_to
from paas.permissions import can_create_tenant
from tenants.context_processors import SESSION_KEY
from tenants.selectors import (
    environments_visible_to,
    memberships_visible_to,
    tenant_get,
    tenants_for_dashboard,
    tokens_visible_to,
)

from . import auth_services
from .forms import LoginForm

DASHBOARD_TENANTS = 9
DASHBOARD_EVENTS = 10


def safe_next(request, default: str) -> str:
    """The `next` parameter if it points into this site, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request):
    if request.method == "GET" and request.user.is_authenticated:
        return redirect(safe_next(request, settings.LOGIN_REDIRECT_URL))
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            auth_services.sign_in(request, username=form.cleaned_data["username"],
                                  password=form.cleaned_data["password"])
        except auth_services.SignInLocked as exc:
            form.add_error(None, exc.message)
            status = 429
        except auth_services.SignInFailed as exc:
            form.add_error(None, exc.message)
        else:
            return redirect(safe_next(request, settings.LOGIN_REDIRECT_URL))
    context = {"form": form, "next": safe_next(request, ""), "product_name": settings.PAAS_PRODUCT_NAME}
    return render(request, "registration/login.html", context, status=status)


@require_POST
def logout_view(request):
    auth_services.sign_out(request)
    messages.info(request, _("You have been signed out."))
    return redirect(settings.LOGOUT_REDIRECT_URL)


@login_required
@require_POST
def set_tenant(request):
    tenant = tenant_get(Actor.from_request(request), request.POST.get("tenant", ""))
    request.session[SESSION_KEY] = tenant.slug
    return redirect(safe_next(request, tenant.get_absolute_url()))


@login_required
def dashboard(request):
    actor = Actor.from_request(request)
    user = request.user
    tenants = tenants_for_dashboard(actor)
    roles = dict(memberships_visible_to(actor).filter(user=user).values_list("tenant_id", "role"))
    cards = list(tenants[:DASHBOARD_TENANTS])
    for tenant in cards:
        tenant.my_role = roles.get(tenant.pk)
    now = timezone.now()
    can_audit = may_audit(actor)
    tenant_total = tenants.count()
    context = {
        "tenant_cards": cards,
        "tenant_total": tenant_total,
        "stats": {
            "tenants": tenant_total,
            "environments": environments_visible_to(actor).count(),
            "tokens": tokens_visible_to(actor).filter(user=user, revoked_at__isnull=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).count(),
        },
        "is_member": bool(roles),
        "can_audit": can_audit,
        "recent_events": list(audit_events_visible_to(actor)[:DASHBOARD_EVENTS]) if can_audit else [],
        "can_create_tenant": can_create_tenant(actor),
    }
    return render(request, "web/dashboard.html", context)


SECTIONS = {
    "clusters": {
        "title": gettext_lazy("Clusters"), "icon": "hdd-network",
        "lead": gettext_lazy("Register Kubernetes member clusters, watch their health and capacity, "
                             "and cordon them for maintenance."),
    },
}


@login_required
def coming_soon(request, section: str):
    info = SECTIONS.get(section)
    if info is None:
        raise Http404("No such section.")
    return render(request, "web/coming_soon.html", {"section": section, **info})
