"""Badges and short forms for the build pages."""
from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from applications.builds.models import Build

register = template.Library()

_STATE = {
    Build.State.QUEUED: ("secondary", "hourglass-split"),
    Build.State.RUNNING: ("primary", "arrow-repeat"),
    Build.State.SUCCEEDED: ("success", "check-circle"),
    Build.State.FAILED: ("danger", "x-circle"),
    Build.State.CANCELLED: ("warning", "slash-circle"),
}


@register.simple_tag
def build_state_badge(build):
    colour, icon = _STATE.get(build.state, ("secondary", "question-circle"))
    label = Build.State(build.state).label if build.state in Build.State.values else build.state
    if build.state == Build.State.RUNNING and build.cancel_requested:
        label = _("Cancelling")
    return format_html(
        '<span class="badge rounded-pill bg-{0}-subtle text-{0}-emphasis border border-{0}-subtle" '
        'data-build-state="{3}"><i class="bi bi-{1} me-1" aria-hidden="true"></i>{2}</span>',
        colour, icon, label, build.state)


@register.filter
def short_digest(digest: str) -> str:
    """sha256:0123456789ab… (12 hex digits), for tables."""
    if not digest:
        return ""
    algorithm, _sep, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}" if hexpart else digest[:19]


@register.filter
def duration(value) -> str:
    """A timedelta as 1h 02m 03s / 2m 03s / 4.2s."""
    if value is None:
        return ""
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


@register.simple_tag
def application_url(application) -> str:
    """The application's own page when the applications pages provide one, else its builds."""
    from django.urls import NoReverseMatch, reverse

    for args in ([application.pk], [application.tenant.slug, application.name]):
        try:
            return reverse("applications:detail", args=args)
        except NoReverseMatch:
            continue
    return reverse("builds:list", kwargs={"app_id": application.pk})
