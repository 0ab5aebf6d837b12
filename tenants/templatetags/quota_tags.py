"""Template helpers for quotas and quota requests: a limit in its human unit, the
fields a request changes, and the badge of a request's state."""
from django import template
from django.utils.translation import gettext_lazy as _

from paas.templatetags.portal import _badge, cores, mib_human
from tenants.models import QuotaRequest

register = template.Library()

_LABELS = {
    "cpu_millicores": _("CPU"), "memory_mib": _("Memory"), "ephemeral_storage_mib": _("Ephemeral disk"),
    "exclusive_cpuset_cores": _("Exclusive cores"), "pods": _("Pods"),
}
_STATE_BADGES = {
    QuotaRequest.State.PENDING: ("warning", "hourglass-split"),
    QuotaRequest.State.APPROVED: ("success", "check2-circle"),
    QuotaRequest.State.REJECTED: ("danger", "x-circle"),
    QuotaRequest.State.CANCELLED: ("secondary", "slash-circle"),
}


def limit_human(field: str, value) -> str:
    if value is None:
        return "—"
    if field == "cpu_millicores":
        return cores(value)
    if field in ("memory_mib", "ephemeral_storage_mib"):
        return mib_human(value)
    return str(value)


@register.simple_tag
def quota_changes(quota_request: QuotaRequest) -> list[dict]:
    """[{label, before, after}] in human units for the limits the request changes."""
    return [{"label": str(_LABELS[field]), "before": limit_human(field, old), "after": limit_human(field, new)}
            for field, old, new in quota_request.changes()]


@register.simple_tag
def quota_request_badge(state: str):
    colour, icon = _STATE_BADGES.get(state, ("secondary", ""))
    return _badge(colour, QuotaRequest.State(state).label, icon)
