"""New release: from an instance (application + environment) and a target revision, the options
form, a server-computed preview of the plan (releases.services.release_preview: every step with
its clusters, pods, in place or recreated, estimated duration) and Create
(releases.services.release_create), which leaves the release planned for Start on its page."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from applications import selectors as app_selectors
from paas.actors import Actor
from paas.errors import DomainError
from tenants.context_processors import SESSION_KEY
from tenants.selectors import environment_get

from .forms import ReleaseForm
from .models import Release
from .views_common import PROTECTED_KINDS, ensure_may_release


def _scope(request):
    """The instance named by ?application=<id>&environment=<slug> (POST: the same fields)."""
    source = request.POST if request.method == "POST" else request.GET
    actor = Actor.from_request(request)
    application = app_selectors.application_get(actor, source.get("application", ""))
    environment = environment_get(actor, application.tenant, (source.get("environment") or "")[:63])
    instance = app_selectors.instance_get(application, environment.slug)
    if request.session.get(SESSION_KEY) != application.tenant.slug:
        request.session[SESSION_KEY] = application.tenant.slug
    return actor, application, environment, instance


def _cells(environment) -> list[str]:
    from clusters.federation.scheduling import topology_for

    return sorted({c.cell for c in topology_for(environment).bound()})


@login_required
def release_create(request):
    actor, application, environment, instance = _scope(request)
    ensure_may_release(request, actor, environment, action="release.create")
    revisions = [r for r in app_selectors.revisions_of(application).filter(environment=environment)
                 if r.pk != instance.baseline_id]
    initial = {}
    wanted = request.GET.get("target", "")
    if wanted.isdecimal() and any(r.pk == int(wanted) for r in revisions):
        initial["target"] = int(wanted)
    form = ReleaseForm(request.POST or None, revisions=revisions, cells=_cells(environment), initial=initial)
    active = Release.objects.filter(instance=instance, state__in=Release.ACTIVE_STATES).first()
    preview = None
    if request.method == "POST" and form.is_valid():
        from . import services

        target = next(r for r in revisions if r.pk == form.cleaned_data["target"])
        options = form.options()
        try:
            if request.POST.get("action") == "create":
                release = services.release_create(actor=actor, instance=instance, target=target, options=options,
                                                  description=form.cleaned_data["description"])
            else:
                preview = services.release_preview(actor=actor, instance=instance, target=target, options=options)
        except DomainError as exc:
            form.add_domain_error(exc)
            preview = None
        else:
            if preview is None:
                messages.success(request, _("Release #%(n)s is planned: check the plan, then start it.")
                                 % {"n": release.number})
                return redirect(release)
    context = {"application": application, "environment": environment, "instance": instance, "form": form,
               "tenant": application.tenant, "revisions": revisions, "active": active, "preview": preview,
               "preview_steps": _steps_view(preview), "protected": environment.kind in PROTECTED_KINDS}
    return render(request, "releases/create.html", context)


def _steps_view(plan) -> list[dict]:
    """The plan's steps with cluster slugs instead of ids, and pods per step, for the table."""
    if not plan:
        return []
    slugs = {c.get("id"): c.get("slug", "") for c in plan.get("clusters", [])}
    rows, previous = [], {}
    for step in plan.get("steps", []):
        targets = []
        for t in step.get("targets", []):
            key = (t.get("cluster"), t.get("component"))
            moved = max(0, int(t.get("desired") or 0) - previous.get(key, 0))
            previous[key] = int(t.get("desired") or 0)
            targets.append({**t, "cluster_slug": slugs.get(t.get("cluster"), str(t.get("cluster"))), "moved": moved})
        rows.append({**step, "targets": targets, "pods": sum(t["moved"] for t in targets)})
    return rows

