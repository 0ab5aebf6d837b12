"""Badges of the cluster pages: health, cordon, stop switch and DR drill state."""
from django import template
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from clusters.models import Cluster

register = template.Library()

_HEALTH = {
    Cluster.Health.HEALTHY: ("success", "check-circle-fill"),
    Cluster.Health.UNREACHABLE: ("danger", "wifi-off"),
    Cluster.Health.ERROR: ("warning", "exclamation-triangle-fill"),
    Cluster.Health.UNKNOWN: ("secondary", "question-circle"),
}


def _badge(colour: str, label, icon: str, title: str = ""):
    return format_html(
        '<span class="badge rounded-pill bg-{0}-subtle text-{0}-emphasis border border-{0}-subtle"{3}>'
        '<i class="bi bi-{1} me-1" aria-hidden="true"></i>{2}</span>',
        colour, icon, label, format_html(' title="{}"', title) if title else "")


@register.simple_tag
def health_badge(cluster):
    colour, icon = _HEALTH.get(cluster.health, ("secondary", "question-circle"))
    return _badge(colour, cluster.get_health_display(), icon, cluster.last_error[:200])


@register.simple_tag
def failed_badge(obj):
    return _badge("danger", _("Marked failed"), "fire") if obj.failed else ""


@register.simple_tag
def cluster_state_badges(cluster):
    """Cordoned, propagation stopped, and a failed cell or zone (why it takes no placements)."""
    badges = []
    if cluster.cordoned:
        badges.append(_badge("warning", _("Cordoned"), "sign-stop"))
    if cluster.propagation_paused:
        badges.append(_badge("dark", _("Propagation stopped"), "pause-circle"))
    if cluster.cell.failed:
        badges.append(_badge("danger", _("Cell failed"), "fire"))
    if cluster.cell.zone.failed:
        badges.append(_badge("danger", _("Zone failed"), "fire"))
    return format_html_join(" ", "{}", ((b,) for b in badges))


@register.simple_tag
def label_chips(labels):
    if not labels:
        return ""
    return format_html_join(
        " ", '<span class="badge bg-light text-body-secondary border fw-normal font-monospace">{}={}</span>',
        sorted(labels.items()))
