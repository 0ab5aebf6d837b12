"""Application pages: list, create/edit/delete, the detail page (components, dependencies,
instances per environment with live status, revisions) and dependencies. Thin: selectors read
(another tenant's application is a 404), services write (a refused change is a 403)."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from paas.actors import Actor
from paas.errors import DomainError
from paas.permissions import NotPermitted, can
from tenants.context_processors import SESSION_KEY
from tenants.roles import TENANT_PERMISSIONS
from tenants.selectors import environments_visible_to, tenants_visible_to, tenants_with_permission
from tenants.views._common import ensure, environment_order, paginate

from . import selectors, services
from .forms import ApplicationForm, DependencyForm, RevisionForm
from .models import Application, ApplicationDependency, Stack


def load(request, app_id) -> tuple[Actor, Application]:
    """The application if visible (else 404); its tenant becomes the switcher's current one."""
    actor = Actor.from_request(request)
    application = selectors.application_get(actor, app_id)
    if request.session.get(SESSION_KEY) != application.tenant.slug:
        request.session[SESSION_KEY] = application.tenant.slug
    return actor, application


def app_context(actor, application, **extra) -> dict:
    return {"application": application, "tenant": application.tenant,
            "can_manage": can(actor, "manage_applications", application), **extra}


@login_required
def application_list(request):
    actor = Actor.from_request(request)
    tenants = tenants_visible_to(actor).order_by("name")
    slug = request.GET.get("tenant")
    if slug is None:
        slug = request.session.get(SESSION_KEY, "")
    tenant = tenants.filter(slug=slug).first() if slug else None
    query = (request.GET.get("q") or "").strip()[:100]
    stack = request.GET.get("stack") if request.GET.get("stack") in Stack.values else ""
    rows = selectors.applications_listed(actor, tenant=tenant, query=query, stack=stack)
    page = paginate(request, rows)
    instances = {}
    for instance in (selectors.AppInstance.objects.filter(application__in=[a.pk for a in page.object_list])
                     .select_related("environment", "baseline").order_by(environment_order("environment__kind"))):
        instances.setdefault(instance.application_id, []).append(instance)
    for application in page.object_list:
        application.instance_list = instances.get(application.pk, [])
    context = {"page_obj": page, "tenants": tenants, "tenant": tenant, "query": query, "stack": stack,
               "stacks": Stack.choices, "can_create": tenants_with_permission(actor, "manage_applications").exists()}
    return render(request, "applications/list.html", context)


@login_required
def application_create(request):
    actor = Actor.from_request(request)
    allowed = tenants_with_permission(actor, "manage_applications").order_by("name")
    if not allowed.exists():
        if request.method == "POST":
            raise NotPermitted(_("You may not create applications in any tenant."))
        raise NotPermitted(_("Your role does not allow this: %(what)s.")
                           % {"what": TENANT_PERMISSIONS["manage_applications"]})
    initial = {"tenant": request.session.get(SESSION_KEY)}
    form = ApplicationForm(request.POST or None, tenants=allowed, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        tenant = allowed.get(slug=data.pop("tenant"))
        try:
            application = services.application_create(actor=actor, tenant=tenant, **data)
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Application “%(name)s” was created. Add its components next.")
                             % {"name": application.name})
            return redirect(application)
    return render(request, "applications/form.html", {"form": form, "creating": True})


@login_required
def application_edit(request, app_id):
    actor, application = load(request, app_id)
    ensure(request, actor, "manage_applications", application, action="app.application.update")
    form = ApplicationForm.for_application(application, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.application_update(actor=actor, application=application, **form.cleaned_data)
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Saved."))
            return redirect(application)
    return render(request, "applications/form.html", app_context(actor, application, form=form, creating=False))


@login_required
@require_POST
def application_delete(request, app_id):
    actor, application = load(request, app_id)
    ensure(request, actor, "manage_applications", application, action="app.application.delete")
    try:
        services.application_delete(actor=actor, application=application)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(application)
    messages.success(request, _("“%(name)s” was deleted; its objects are being removed from the member clusters.")
                     % {"name": application.name})
    return redirect("applications:list")


def _environments(actor, application):
    return (environments_visible_to(actor).filter(tenant=application.tenant)
            .order_by(environment_order(), "slug"))


@login_required
def application_detail(request, app_id):
    actor, application = load(request, app_id)
    environments = list(_environments(actor, application))
    instances = {i.environment_id: i for i in selectors.instances_of(application)}
    revisions = list(selectors.revisions_of(application))
    rows = []
    for environment in environments:
        instance = instances.get(environment.pk)
        links = selectors.instance_resources(instance) if instance else []
        rows.append({"environment": environment, "instance": instance, "health": selectors.instance_health(links),
                     "resources": [link.resource.pk for link in links],
                     "revisions": [r for r in revisions if r.environment_id == environment.pk]})
    dependencies = application.dependencies.select_related("depends_on").order_by("depends_on__name")
    dependents = application.dependents.select_related("application").order_by("application__name")
    taken = {d.depends_on_id for d in dependencies} | {application.pk}
    candidates = application.tenant.applications.exclude(pk__in=taken).order_by("name")
    context = app_context(
        actor, application, components=application.components.order_by("name"), environments=rows,
        dependencies=dependencies, dependents=dependents,
        dependency_form=DependencyForm(candidates=candidates) if candidates else None,
        revision_form=RevisionForm(environments=environments),
        has_revisions=bool(revisions),
        live_ids=" ".join(str(pk) for row in rows for pk in row["resources"]))
    return render(request, "applications/detail.html", context)


@login_required
@require_POST
def dependency_add(request, app_id):
    actor, application = load(request, app_id)
    ensure(request, actor, "manage_applications", application, action="app.dependency.add")
    candidates = application.tenant.applications.exclude(pk=application.pk)
    form = DependencyForm(request.POST, candidates=candidates)
    if not form.is_valid():
        messages.error(request, _("Choose an application of this tenant."))
        return redirect(application)
    other = candidates.get(pk=int(form.cleaned_data["depends_on"]))
    try:
        services.dependency_add(actor=actor, application=application, depends_on=other)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(app)s now needs %(other)s.") % {"app": application.name, "other": other.name})
    return redirect(application.get_absolute_url() + "#dependencies")


@login_required
@require_POST
def dependency_remove(request, app_id, dep_id):
    actor, application = load(request, app_id)
    ensure(request, actor, "manage_applications", application, action="app.dependency.remove")
    edge = ApplicationDependency.objects.filter(application=application, pk=dep_id).select_related("depends_on").first()
    if edge is not None:
        services.dependency_remove(actor=actor, application=application, depends_on=edge.depends_on)
        messages.success(request, _("%(app)s no longer needs %(other)s.")
                         % {"app": application.name, "other": edge.depends_on.name})
    return redirect(application.get_absolute_url() + "#dependencies")
