"""Shared by the cluster pages: who may do what, and the shape of an operator action.

Operator-only pages refuse everyone else with 403 before looking anything up, so a
non-operator learns nothing from the answer (not even whether the object exists).
Read pages go through the selectors: an invisible object is a 404.
"""
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.errors import DomainError
from paas.permissions import NotPermitted, authorize_platform, can_platform

PLATFORM_PERMISSIONS = [
    "view_cluster", "add_cluster", "change_cluster", "delete_cluster", "cordon_cluster", "pause_propagation",
    "add_region", "change_region", "delete_region", "add_zone", "change_zone", "delete_zone", "mark_zone_failed",
    "add_cell", "change_cell", "delete_cell", "mark_cell_failed", "stop_all_propagation",
    "add_environmentbinding", "delete_environmentbinding",
]


def platform_perms(actor: Actor) -> dict[str, bool]:
    """Template flags: {"cordon_cluster": True, ...} (tokens and tenant members: all False)."""
    return {perm: can_platform(actor, f"clusters.{perm}") for perm in PLATFORM_PERMISSIONS}


def require_platform(request, actor: Actor, perm: str, *, action: str, target) -> None:
    """403 unless the actor holds the platform permission; a refused POST is audited."""
    if request.method == "POST":
        authorize_platform(actor, f"clusters.{perm}", target, action=action)
    elif not can_platform(actor, f"clusters.{perm}"):
        raise NotPermitted(_("Only platform operators may do this."))


def back(request, default):
    """Where a POST action returns to: a same-site `next`, else `default` (object or URL)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect(default)


def run_action(request, service, obj, param: str, done: str, default: str):
    """Call `service(actor=..., <param>=obj, reason=...)`, flash the outcome, go back."""
    actor = Actor.from_request(request)
    try:
        service(actor=actor, **{param: obj}, reason=request.POST.get("reason", "")[:2000])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done % {"name": obj.name})
    return back(request, default)
