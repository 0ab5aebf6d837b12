"""Refused writes are audited in one place, whatever refused them.

Services record their own refusals (`paas.permissions.authorize`). What they never
see is a write refused before a service is reached: another tenant's object, which
the selectors answer with a 404 exactly like a missing one, or a page or endpoint
that refuses up front with a 403. This middleware looks at every unsafe request of
a signed-in actor that ends in 403 or 404 and, unless a denied event was already
recorded for the request, records one. The response is not touched, so the caller
learns nothing: a foreign object and a missing one still answer the same 404.
"""
import contextvars

from django.utils.translation import gettext_noop

from paas.actors import Actor

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REFUSED_STATUSES = frozenset({403, 404})
# URL namespaces whose `slug` argument is a tenant's (the API names it tenant_slug).
TENANT_SLUG_NAMESPACES = frozenset({"tenants", "federation"})

_denied = contextvars.ContextVar("paas_denied_recorded", default=None)


def note_denied() -> None:
    """Called by audit_record for every denied event: the request's refusal is on record."""
    holder = _denied.get()
    if holder is not None:
        holder.append(True)


def _tenant_slug(match) -> str | None:
    if match is None:
        return None
    if match.kwargs.get("tenant_slug"):
        return match.kwargs["tenant_slug"]
    if match.namespace in TENANT_SLUG_NAMESPACES and match.kwargs.get("slug"):
        return match.kwargs["slug"]
    return None


def record_refused_write(request, status: int) -> None:
    from tenants.models import Tenant
    from tenants.selectors import tenants_visible_to

    from .services import audit_record

    actor = Actor.from_request(request)
    if actor.user is None:  # anonymous: sent to sign in, nobody to attribute the attempt to
        return
    match = getattr(request, "resolver_match", None)
    tenant = None
    slug = _tenant_slug(match)
    if slug:
        tenant = Tenant.objects.filter(slug=slug).first()
    if status == 404 and tenant is not None and not tenants_visible_to(actor).filter(pk=tenant.pk).exists():
        # Recorded against the tenant it belongs to, so that tenant's auditors see who tried.
        reason = gettext_noop("answered 404: the object belongs to a tenant the actor cannot see")
    elif status == 404:
        reason = gettext_noop("answered 404: no such object among those the actor can see")
    else:
        reason = gettext_noop("answered 403: refused before reaching a service")
    view = match.view_name if match is not None else "unresolved"
    audit_record(actor=actor, action=f"request.{request.method.lower()}", tenant=tenant,
                 target=("url", view, request.path[:300]), outcome="denied", reason=reason)


class RefusedWriteMiddleware:
    """After AuthenticationMiddleware: pages and API alike (DRF sets the user on the request)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in UNSAFE_METHODS:
            return self.get_response(request)
        holder = []
        token = _denied.set(holder)
        try:
            response = self.get_response(request)
        finally:
            _denied.reset(token)
        if response.status_code in REFUSED_STATUSES and not holder:
            record_refused_write(request, response.status_code)
        return response
