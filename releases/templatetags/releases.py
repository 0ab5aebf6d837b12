"""Template helpers of the release pages: state badges (the same colours as release-live.js uses
when an event changes the state) and the release links on an application instance's page."""
from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from paas.actors import Actor

from ..models import Release

register = template.Library()

# state -> (Bootstrap colour, icon); static/releases/release-live.js has the same table.
STATE_STYLE = {
    "planned": ("secondary", "calendar-check"), "running": ("primary", "arrow-repeat"),
    "waiting": ("warning", "hourglass-split"), "paused": ("warning", "pause-circle"),
    "rolling_back": ("danger", "arrow-counterclockwise"), "succeeded": ("success", "check-circle"),
    "aborted": ("secondary", "slash-circle"), "rolled_back": ("info", "arrow-counterclockwise"),
    "failed": ("danger", "x-circle"),
}


@register.simple_tag
def release_state_badge(state: str):
    colour, icon = STATE_STYLE.get(state, ("secondary", "question-circle"))
    label = Release.State(state).label if state in Release.State.values else state
    return format_html('<span class="badge rounded-pill bg-{0}-subtle text-{0}-emphasis border border-{0}-subtle" '
                       'data-release-state="{3}"><i class="bi bi-{1} me-1" aria-hidden="true"></i>{2}</span>',
                       colour, icon, label, state)


@register.inclusion_tag("releases/_instance_card.html", takes_context=True)
def release_card(context, instance, revisions=()):
    """The instance page's release card: the active release (or the last one) and a “Release
    revision N” button for each newer revision when the person may release here."""
    from ..views_common import may_release

    request = context.get("request")
    actor = Actor.from_request(request) if request is not None else None
    allowed = actor is not None and may_release(actor, instance.environment)
    releases = list(Release.objects.filter(instance=instance).select_related("baseline", "target")
                    .order_by("-number")[:5])
    active = next((r for r in releases if r.is_active), None)
    baseline = instance.baseline.number if instance.baseline else 0
    candidates = [r for r in revisions if r.environment_id == instance.environment_id and r.number > baseline]
    return {"instance": instance, "releases": releases, "active": active, "may_release": allowed and active is None,
            "candidates": candidates[:3], "application": instance.application, "environment": instance.environment,
            "refused": _("Your role does not allow releasing here.") if not allowed else ""}
