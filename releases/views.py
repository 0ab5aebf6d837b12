"""Release pages: the list (tenant-scoped, filtered, live badges), the detail page (the live
view: a server-rendered snapshot, then numbered events), the events JSON the browser fills gaps
from, and the action buttons (POST forms calling the same services as the API).
Thin: selectors read (another tenant's release is a 404), services write and authorize."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from applications.selectors import applications_visible_to
from paas.actors import Actor
from paas.errors import DomainError
from tenants.context_processors import SESSION_KEY
from tenants.selectors import environments_visible_to, tenants_visible_to
from tenants.views._common import paginate

from . import events as event_log
from .models import Release
from .views_common import (
    ACTION_STATES,
    ACTIONS,
    allowed_actions,
    load,
    may_release,
    releases_visible_to,
)
from .views_state import release_state

EVENTS_PAGE = 500
APPLICATIONS_IN_FILTER = 200


@login_required
def release_list(request):
    actor = Actor.from_request(request)
    tenants = tenants_visible_to(actor).order_by("name")
    slug = request.GET.get("tenant")
    if slug is None:
        slug = request.session.get(SESSION_KEY, "")
    tenant = tenants.filter(slug=slug).first() if slug else None
    rows = releases_visible_to(actor)
    environments = environments_visible_to(actor).order_by("tenant__name", "slug")
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
        environments = environments.filter(tenant=tenant)
    application = request.GET.get("application", "")
    if application.isdecimal() and len(application) < 19:
        rows = rows.filter(instance__application_id=int(application))
    environment = (request.GET.get("environment") or "")[:63]
    if environment:
        rows = rows.filter(environment__slug=environment)
    state = request.GET.get("state", "")
    if state in Release.State.values:
        rows = rows.filter(state=state)
    else:
        state = ""
    page = paginate(request, rows.order_by("-created_at", "-pk"))
    apps = applications_visible_to(actor)
    if tenant is not None:
        apps = apps.filter(tenant=tenant)
    applications = list(apps.order_by("name", "pk").values_list("pk", "name")[:APPLICATIONS_IN_FILTER])
    context = {"page_obj": page, "tenants": tenants, "tenant": tenant, "environments": environments,
               "environment": environment, "state": state, "states": Release.State.choices,
               "application": application, "applications": applications,
               "any_active": any(r.is_active for r in page.object_list)}
    return render(request, "releases/list.html", context)


@login_required
def release_detail(request, pk):
    actor, release = load(request, pk)
    instance = release.instance
    context = {
        "release": release, "instance": instance, "application": instance.application,
        "environment": release.environment, "tenant": release.tenant, "state": release_state(release),
        "actions": allowed_actions(actor, release), "may_release": may_release(actor, release.environment),
        "all_actions": ACTIONS, "labels": _labels(), "action_states": ACTION_STATES,
    }
    return render(request, "releases/detail.html", context)


def _labels() -> dict:
    """Words release-live.js shows (translated here: the page's language)."""
    from .models import PodProgress, ReleaseStep

    return {"release": dict(Release.State.choices), "step": dict(ReleaseStep.State.choices),
            "pod": dict(PodProgress.State.choices), "kind": dict(ReleaseStep.Kind.choices),
            "words": {"manual": _("manual"), "ready": _("ready"), "updated": _("updated"), "restarts": _("restarts"),
                      "not_observed": _("not observed yet"), "no_pods": _("No pods observed yet."),
                      "success": _("of requests succeeded"), "sent": _("sent"), "ok": _("ok"),
                      "failed": _("failed"), "back_on_baseline": _("Back on the baseline")}}


@login_required
def release_events(request, pk):
    """Events numbered above ?after=<seq> (at most ?limit=, 500 by default), oldest first: how the
    page fills a gap or catches up after a reconnect. Same rows as the live stream."""
    _actor, release = load(request, pk)
    after, limit = request.GET.get("after", "0"), request.GET.get("limit", str(EVENTS_PAGE))
    if not after.isdecimal() or len(after) > 9 or not limit.isdecimal() or len(limit) > 4:
        return JsonResponse({"error": _("after and limit must be non-negative whole numbers.")}, status=400)
    limit = max(1, min(int(limit), EVENTS_PAGE))
    release.refresh_from_db(fields=["last_seq", "state"])
    events = event_log.after(release, int(after), limit=limit)
    return JsonResponse({"release": release.pk, "state": release.state, "last_seq": release.last_seq,
                         "head": release.last_seq, "events": events})


def _service(action: str):
    from . import services

    return getattr(services, f"release_{action}")


@login_required
@require_POST
def release_action(request, pk, action):
    if action not in ACTIONS:
        raise Http404("No such action.")
    actor, release = load(request, pk)
    kwargs = {}
    if action in ("pause", "rollback"):
        kwargs["reason"] = (request.POST.get("reason") or "").strip()[:500]
    try:
        # The service authorizes before its transaction: a refusal is a 403 with its audit row kept.
        _service(action)(actor=actor, release=release, **kwargs)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, ACTION_DONE[action] % {"n": release.number})
    return redirect(release)


ACTION_DONE = {
    "start": gettext_lazy("Release #%(n)s started."),
    "confirm": gettext_lazy("Next step of release #%(n)s confirmed."),
    "pause": gettext_lazy("Release #%(n)s pauses after the current pod."),
    "resume": gettext_lazy("Release #%(n)s resumed."),
    "abort": gettext_lazy("Release #%(n)s is stopping where it is."),
    "rollback": gettext_lazy("Release #%(n)s is rolling back to the baseline."),
}
