"""Pages for what an application is made of and where it runs: components (forms), instances
(placement, live status of the objects they own, direct apply in dev/test) and revisions
(create, detail, diff side by side, promote)."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clusters.federation.forms import dump_document
from paas.errors import DomainError
from paas.permissions import can
from tenants.selectors import environment_get
from tenants.views._common import is_htmx

from . import selectors, services
from .forms import ComponentForm, PlacementForm, RevisionForm
from .models import AppInstance
from .render import replicas_for
from .services.instances import may_apply_directly
from .services.revisions import NEXT_KIND
from .views import _environments, app_context, ensure, load

# --- components ------------------------------------------------------------------------------


@login_required
def component_create(request, app_id):
    actor, application = load(request, app_id)
    ensure(request, actor, "manage_applications", application, action="app.component.create")
    form = ComponentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            component = services.component_create(actor=actor, application=application, data=form.service_data())
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Component “%(name)s” was added.") % {"name": component.name})
            return redirect(application.get_absolute_url() + "#components")
    return render(request, "applications/component_form.html",
                  app_context(actor, application, form=form, creating=True))


@login_required
def component_edit(request, app_id, name):
    actor, application = load(request, app_id)
    component = selectors.component_get(application, name)
    ensure(request, actor, "manage_applications", application, action="app.component.update")
    form = ComponentForm.for_component(component, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.component_update(actor=actor, component=component,
                                      data=form.service_data(component.secret_env_names))
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Saved. Create a revision to deploy the change."))
            return redirect(application.get_absolute_url() + "#components")
    return render(request, "applications/component_form.html",
                  app_context(actor, application, form=form, creating=False, component=component))


@login_required
@require_POST
def component_delete(request, app_id, name):
    actor, application = load(request, app_id)
    component = selectors.component_get(application, name)
    services.component_delete(actor=actor, component=component)
    messages.success(request, _("Component “%(name)s” was removed; running instances keep it until the next "
                                "revision is deployed.") % {"name": component.name})
    return redirect(application.get_absolute_url() + "#components")


# --- instances -------------------------------------------------------------------------------

def _instance_context(actor, application, instance) -> dict:
    links = selectors.instance_resources(instance)
    baseline = instance.baseline
    components = (baseline.spec if baseline else {}).get("components", [])
    return app_context(actor, application, instance=instance, environment=instance.environment, links=links,
                       health=selectors.instance_health(links),
                       live_ids=" ".join(str(link.resource.pk) for link in links),
                       replicas={c["name"]: replicas_for(c, instance.environment.kind) for c in components})


@login_required
def instance_detail(request, app_id, env):
    actor, application = load(request, app_id)
    environment = environment_get(actor, application.tenant, env)
    instance = selectors.instances_of(application).filter(environment=environment).first()
    revisions = selectors.revisions_of(application).filter(environment=environment)
    if instance is None:
        context = app_context(actor, application, environment=environment, instance=None, revisions=revisions)
        return render(request, "applications/instance.html", context)
    context = _instance_context(actor, application, instance)
    context.update(revisions=revisions, placement_yaml=dump_document(instance.placement) or "{}",
                   may_apply=may_apply_directly(actor, environment, instance))
    return render(request, "applications/instance.html", context)


@login_required
def instance_status(request, app_id, env):
    """The owned objects' health and per-cluster state, refreshed by live events (static/js/live.js)."""
    actor, application = load(request, app_id)
    environment = environment_get(actor, application.tenant, env)
    instance = selectors.instances_of(application).filter(environment=environment).first()
    if instance is None:
        raise Http404("No such instance.")
    return render(request, "applications/_instance_status.html", _instance_context(actor, application, instance))


@login_required
def instance_edit(request, app_id, env):
    """Placement of the application in one environment (the instance is created on first save)."""
    actor, application = load(request, app_id)
    environment = environment_get(actor, application.tenant, env)
    instance = AppInstance.objects.filter(application=application, environment=environment).first()
    ensure(request, actor, "manage_applications", application,
           action="app.instance.update" if instance else "app.instance.create")
    initial = {"placement": dump_document(instance.placement) if instance else ""}
    form = PlacementForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        placement = form.cleaned_data["placement"]
        try:
            if instance is None:
                instance = services.instance_create(actor=actor, application=application, environment=environment,
                                                    placement=placement)
            else:
                instance = services.instance_update(actor=actor, instance=instance, placement=placement)
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Placement saved; it takes effect when a revision is next applied or "
                                        "released."))
            return redirect(instance)
    context = app_context(actor, application, environment=environment, instance=instance, form=form)
    return render(request, "applications/instance_form.html", context)


@login_required
@require_POST
def instance_apply(request, app_id, env):
    actor, application = load(request, app_id)
    environment = environment_get(actor, application.tenant, env)
    ensure(request, actor, "release_application", environment, action="app.instance.apply")
    instance = selectors.instances_of(application).filter(environment=environment).first()
    revision_id = request.POST.get("revision", "")
    revision = selectors.revisions_of(application).filter(environment=environment,
                                                          pk=int(revision_id) if revision_id.isdigit() else 0).first()
    if instance is None or revision is None:
        messages.error(request, _("Choose a revision of this environment to apply."))
        return redirect("applications:instance", app_id=application.pk, env=environment.slug)
    try:
        services.instance_apply_revision(actor=actor, instance=instance, revision=revision)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Revision %(n)s is being deployed to %(env)s.")
                         % {"n": revision.number, "env": environment.name})
    return redirect("applications:instance", app_id=application.pk, env=environment.slug)


# --- revisions -------------------------------------------------------------------------------

@login_required
def revision_create(request, app_id):
    actor, application = load(request, app_id)
    ensure(request, actor, "manage_applications", application, action="app.revision.create")
    environments = list(_environments(actor, application))
    form = RevisionForm(request.POST or None, environments=environments, initial={"environment": request.GET.get("env")})
    if request.method == "POST" and form.is_valid():
        environment = next(e for e in environments if e.slug == form.cleaned_data["environment"])
        try:
            revision = services.revision_create(actor=actor, application=application, environment=environment,
                                                comment=form.cleaned_data["comment"])
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            if revision.created:
                messages.success(request, _("Revision %(n)s was created for %(env)s.")
                                 % {"n": revision.number, "env": environment.name})
            else:
                messages.info(request, _("Nothing changed since revision %(n)s.") % {"n": revision.number})
            return redirect(revision)
    return render(request, "applications/revision_form.html", app_context(actor, application, form=form))


@login_required
def revision_detail(request, app_id, pk):
    actor, application = load(request, app_id)
    revision = selectors.revision_get(application, pk)
    environment = revision.environment
    instance = AppInstance.objects.filter(application=application, environment=environment).first()
    previous = (selectors.revisions_of(application).filter(environment=environment, number__lt=revision.number)
                .order_by("-number").first())
    next_kind = NEXT_KIND.get(environment.kind)
    targets = [e for e in _environments(actor, application) if e.kind == next_kind]
    context = app_context(
        actor, application, revision=revision, environment=environment, instance=instance, previous=previous,
        is_baseline=instance is not None and instance.baseline_id == revision.pk,
        promote_targets=targets if can(actor, "manage_applications", application) else [],
        may_apply=instance is not None and may_apply_directly(actor, environment, instance),
        components=[{**c, "replica_count": replicas_for(c, environment.kind)}
                    for c in revision.spec.get("components", [])])
    return render(request, "applications/revision.html", context)


@login_required
@require_POST
def revision_promote(request, app_id, pk):
    actor, application = load(request, app_id)
    revision = selectors.revision_get(application, pk)
    ensure(request, actor, "manage_applications", application, action="app.revision.promote")
    slug = request.POST.get("environment", "")
    environment = _environments(actor, application).filter(slug=slug).first()
    if environment is None:
        messages.error(request, _("Choose an environment to promote to."))
        return redirect(revision)
    try:
        copy = services.revision_promote(actor=actor, revision=revision, environment=environment)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(revision)
    messages.success(request, _("Revision %(from)s of %(src)s is revision %(n)s of %(env)s, unchanged.")
                     % {"from": revision.number, "src": revision.environment.name, "n": copy.number,
                        "env": environment.name})
    return redirect(copy)


@login_required
def revision_diff(request, app_id):
    """Two revisions side by side: ?from=<id>&to=<id> (any environments of the application)."""
    actor, application = load(request, app_id)
    revisions = list(selectors.revisions_of(application))
    by_id = {str(r.pk): r for r in revisions}
    after = by_id.get(request.GET.get("to", ""))
    before = by_id.get(request.GET.get("from", ""))
    if after is None and revisions:
        after = revisions[0]
    rows = services.revision_diff(before, after) if after is not None else []
    context = app_context(actor, application, revisions=revisions, before=before, after=after, rows=rows)
    template = "applications/_diff_rows.html" if is_htmx(request) else "applications/diff.html"
    return render(request, template, context)
