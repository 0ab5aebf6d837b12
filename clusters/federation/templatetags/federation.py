"""Badges and small formatting helpers for the federation pages."""
from django import template
from django.utils.translation import gettext_lazy as _

from paas.templatetags.portal import _badge

register = template.Library()

_STATES = {
    "pending": ("warning", _("Pending"), "hourglass-split"),
    "applied": ("success", _("Applied"), "check-circle"),
    "error": ("danger", _("Error"), "exclamation-octagon"),
    "removing": ("secondary", _("Removing"), "trash"),
    "removed": ("light", _("Removed"), "dash-circle"),
}
_ACTIONS = {
    "create": ("primary", _("Create"), "plus-circle"),
    "update": ("warning", _("Update"), "pencil"),
    "unchanged": ("success", _("Unchanged"), "check2"),
    "delete": ("danger", _("Delete"), "trash"),
    "absent": ("light", _("Not placed"), "dash"),
    "error": ("danger", _("Error"), "exclamation-octagon"),
    "unknown": ("secondary", _("Unknown"), "question-circle"),
}


@register.simple_tag
def propagation_badge(state: str):
    colour, label, icon = _STATES.get(state, ("secondary", state, ""))
    return _badge(colour, label, icon)


@register.simple_tag
def preview_badge(action: str):
    colour, label, icon = _ACTIONS.get(action, ("secondary", action, ""))
    return _badge(colour, label, icon)


@register.simple_tag
def resource_badge(status: dict, deleting: bool = False):
    status = status or {}
    if deleting:
        return _badge("secondary", _("Deleting"), "trash")
    if status.get("states", {}).get("error"):
        return _badge("danger", _("Errors"), "exclamation-octagon")
    if status.get("ready"):
        return _badge("success", _("Ready"), "check-circle")
    if status.get("converged"):
        return _badge("info", _("Applied"), "check2")
    return _badge("warning", _("Propagating"), "arrow-repeat")


@register.filter
def diff_class(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "text-body-secondary"
    if line.startswith("+"):
        return "text-success"
    if line.startswith("-"):
        return "text-danger"
    if line.startswith("@@"):
        return "text-info"
    return ""


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key) if isinstance(mapping, dict) else None
