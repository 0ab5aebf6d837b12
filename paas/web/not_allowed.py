"""A page, not a blank body, for a GET on a URL that only takes POST.

Views that change something are `require_POST`; following such a link (a bookmark,
a copied form action, a reload after a failed submit) got Django's empty 405. This
middleware renders the portal's 405 page instead, linking to the page that holds
the form (the nearest parent URL that exists) and keeping the Allow header. The
API keeps its JSON errors (DRF answers 405 itself, with a body).
"""
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from paas.api.errors import is_api


def page_holding_the_form(path: str) -> str:
    """The nearest parent URL that resolves: /tenants/acme/members/invite/ -> /tenants/acme/members/."""
    parts = [p for p in path.split("/") if p]
    while parts:
        parts.pop()
        candidate = "/" + "/".join(parts) + ("/" if parts else "")
        try:
            resolve(candidate)
        except Resolver404:
            continue
        return candidate
    return "/"


class MethodNotAllowedPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (response.status_code != 405 or request.method not in ("GET", "HEAD") or is_api(request)
                or response.content):
            return response
        page = render(request, "405.html", {
            "back_url": page_holding_the_form(request.path),
            "allowed": response.get("Allow", ""),
            "explanation": _("This address only accepts a submitted form; opening it directly does nothing."),
        }, status=405)
        page["Allow"] = response.get("Allow", "")
        return page
