"""Helpers shared by the tenant pages: loading the tenant in scope, permission
flags for templates, and refusing a page up front when the role cannot act."""
from django.core.paginator import Paginator
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.permissions import NotPermitted, authorize, can
from tenants.context_processors import SESSION_KEY
from tenants.models import Tenant
from tenants.roles import TENANT_PERMISSIONS
from tenants.selectors import tenant_get, user_role

PAGE_SIZE = 25


def load_tenant(request, slug: str) -> tuple[Actor, Tenant]:
    """The tenant if visible (else 404); it becomes the switcher's current tenant."""
    actor = Actor.from_request(request)
    tenant = tenant_get(actor, slug)
    if request.session.get(SESSION_KEY) != tenant.slug:
        request.session[SESSION_KEY] = tenant.slug
    return actor, tenant


def ensure(request, actor: Actor, codename: str, obj, *, action: str) -> None:
    """Refuse with 403 before showing or processing a form the role cannot use.

    A POST is an attempted change and is recorded as denied (authorize); merely
    opening the form is not.
    """
    if request.method == "POST":
        authorize(actor, codename, obj, action=action)
    elif not can(actor, codename, obj):
        raise NotPermitted(_("Your role does not allow this: %(what)s.") % {"what": TENANT_PERMISSIONS[codename]})


def tenant_context(actor: Actor, tenant: Tenant, tab: str) -> dict:
    return {
        "tenant": tenant,
        "tab": tab,
        "tperms": {codename: can(actor, codename, tenant) for codename in TENANT_PERMISSIONS},
        "my_role": user_role(actor.user, tenant) if actor.user is not None else None,
    }


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def environment_order(field: str = "kind"):
    """Pipeline order (dev, test, pre, prod) instead of alphabetical slugs."""
    from django.db.models import Case, IntegerField, Value, When

    from tenants.models import Environment

    kinds = [Environment.Kind.DEV, Environment.Kind.TEST, Environment.Kind.PRE, Environment.Kind.PROD]
    return Case(*[When(**{field: k}, then=Value(i)) for i, k in enumerate(kinds)], default=Value(9),
                output_field=IntegerField())
