"""Tenant switcher: the tenants the user may see and the one they last chose."""
from paas.actors import Actor

from .selectors import tenants_visible_to

SESSION_KEY = "current_tenant"


def tenant_switcher(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    tenants = list(tenants_visible_to(Actor.for_user(user)).only("pk", "name", "slug")[:200])
    slug = request.session.get(SESSION_KEY)
    current = next((t for t in tenants if t.slug == slug), tenants[0] if tenants else None)
    return {"switcher_tenants": tenants, "current_tenant": current}
