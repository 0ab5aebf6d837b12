"""Reads scoped to what the asking actor may see. Anything outside that scope is
simply absent, so views answer 404 for another tenant's object, as for a missing one."""
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from paas.actors import Actor
from paas.permissions import can, can_platform

from .models import ApiToken, Environment, Membership, Quota, QuotaRequest, Tenant


def tenants_visible_to(actor: Actor) -> QuerySet[Tenant]:
    if actor.is_system:
        return Tenant.objects.all()
    user = actor.user
    if user is None or not user.is_active:
        return Tenant.objects.none()
    # Role grants (guardian, per tenant) and operator-wide grants (global perm) alike.
    tenants = get_objects_for_user(user, "tenants.view_tenant", klass=Tenant, accept_global_perms=True)
    if actor.token is not None:
        tenants = tenants.filter(pk=actor.token.tenant_id) if actor.token.is_usable else tenants.none()
    return tenants


def tenants_with_permission(actor: Actor, codename: str) -> QuerySet[Tenant]:
    """Tenants on which the actor holds `codename` (role, operator, token scope all applied)."""
    visible = tenants_visible_to(actor)
    if actor.is_system or (actor.user.is_superuser and actor.token is None):
        return visible
    allowed = [t.pk for t in visible if can(actor, codename, t)]
    return Tenant.objects.filter(pk__in=allowed)


def tenants_for_dashboard(actor: Actor) -> QuerySet[Tenant]:
    """Visible tenants with counts: the user's own first, then others they may see (operators)."""
    mine = Membership.objects.filter(tenant=OuterRef("pk"), user=actor.user)
    return (
        tenants_visible_to(actor)
        .annotate(env_count=Count("environments", distinct=True),
                  member_count=Count("memberships", distinct=True), is_mine=Exists(mine))
        .order_by("-is_mine", "-is_active", "name")
    )


def tenant_get(actor: Actor, slug: str) -> Tenant:
    try:
        return tenants_visible_to(actor).get(slug=slug)
    except Tenant.DoesNotExist:
        raise Http404("No such tenant.") from None


def environments_visible_to(actor: Actor) -> QuerySet[Environment]:
    return Environment.objects.filter(tenant__in=tenants_visible_to(actor)).select_related("tenant", "quota")


def environment_get(actor: Actor, tenant: Tenant, slug: str) -> Environment:
    try:
        return environments_visible_to(actor).get(tenant=tenant, slug=slug)
    except Environment.DoesNotExist:
        raise Http404("No such environment.") from None


def memberships_visible_to(actor: Actor) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant__in=tenants_visible_to(actor)).select_related("tenant", "user")


def quotas_visible_to(actor: Actor) -> QuerySet[Quota]:
    return Quota.objects.filter(tenant__in=tenants_visible_to(actor)).select_related("tenant", "environment")


def tokens_visible_to(actor: Actor) -> QuerySet[ApiToken]:
    """Own tokens in visible tenants, plus every token of tenants the actor manages tokens for."""
    if actor.is_system:
        return ApiToken.objects.select_related("user", "tenant")
    if actor.user is None:
        return ApiToken.objects.none()
    managed = tenants_with_permission(actor, "manage_api_tokens")
    own = ApiToken.objects.filter(user=actor.user, tenant__in=tenants_visible_to(actor))
    return (own | ApiToken.objects.filter(tenant__in=managed)).select_related("user", "tenant").distinct()


def user_role(user, tenant: Tenant) -> str | None:
    return Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()


def quota_requests_visible_to(actor: Actor) -> QuerySet[QuotaRequest]:
    """Requests of the tenants the actor sees; every tenant's for those who decide them (operators)."""
    requests = QuotaRequest.objects.select_related("tenant", "environment", "requested_by", "decided_by")
    if can_platform(actor, "tenants.set_quota"):
        return requests
    return requests.filter(tenant__in=tenants_visible_to(actor))


def quota_request_get(actor: Actor, pk, *, tenant: Tenant | None = None) -> QuotaRequest:
    requests = quota_requests_visible_to(actor)
    if tenant is not None:
        requests = requests.filter(tenant=tenant)
    try:
        return requests.get(pk=pk)
    except (QuotaRequest.DoesNotExist, ValueError):
        raise Http404("No such quota request.") from None
