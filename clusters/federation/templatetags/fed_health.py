"""Health badges (templates/includes/health_badge.html) and the sync-state badge that sits
beside them. The reason is rendered from its stored code in the reader's language."""
from django import template
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from paas.templatetags.portal import _badge

from .. import health as health_rules

register = template.Library()

# state -> (badge classes, label, icon, colour of the reason text)
_LOOKS = {
    health_rules.HEALTHY: ("bg-success-subtle text-success-emphasis border border-success-subtle", _("Healthy"),
                           "heart-pulse-fill", "text-success-emphasis"),
    health_rules.PROGRESSING: ("bg-primary-subtle text-primary-emphasis border border-primary-subtle",
                               _("Progressing"), "arrow-repeat", "text-primary-emphasis"),
    health_rules.DEGRADED: ("bg-warning text-dark border border-warning", _("Degraded"), "exclamation-triangle-fill",
                            "text-warning-emphasis"),
    health_rules.FAILED: ("bg-danger text-white border border-danger", _("Failed"), "x-octagon-fill",
                          "text-danger-emphasis"),
    health_rules.UNKNOWN: ("bg-secondary-subtle text-secondary-emphasis border border-secondary-subtle",
                           _("Unknown"), "question-circle", "text-body-secondary"),
}


@register.filter
def health_view(health) -> dict:
    """What the badge shows for a health dict (missing or malformed: unknown)."""
    health = health if isinstance(health, dict) else {}
    state = health.get("state") if health.get("state") in _LOOKS else health_rules.UNKNOWN
    classes, label, icon, text = _LOOKS[state]
    return {"state": state, "classes": classes, "label": label, "icon": icon, "text": text,
            "reason": health_rules.reason_text(health)}


@register.simple_tag
def sync_badge(status: dict, deleting: bool = False):
    """Where propagation stands, apart from health: synced, syncing, sync errors, deleting."""
    status = status or {}
    if deleting:
        return _badge("secondary", _("Deleting"), "trash")
    if (status.get("states") or {}).get("error"):
        return _badge("danger", _("Sync errors"), "exclamation-octagon")
    if status.get("converged"):
        return _badge("light", pgettext_lazy("sync state", "Synced"), "check2")
    return _badge("info", _("Syncing"), "arrow-repeat")


@register.filter
def pod_counts(pods) -> str:
    """ "2/3 ready · 5 restarts" from a member's pod summary ("" without one)."""
    if not isinstance(pods, dict):
        return ""
    text = _("%(ready)s/%(total)s ready") % {"ready": pods.get("ready", 0), "total": pods.get("total", 0)}
    if pods.get("restarts"):
        text += " · " + _("%(n)s restarts") % {"n": pods["restarts"]}
    return text
