"""Federation pages of a tenant environment: list, create/edit, detail with live
per-cluster status, preview, service discovery. Thin: selectors read (another
tenant's object is a 404), services write (a denied change is a 403)."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clusters.models import EnvironmentBinding
from paas.actors import Actor
from paas.errors import DomainError
from paas.permissions import can
from tenants.context_processors import SESSION_KEY
from tenants.selectors import environment_get, tenants_visible_to
from tenants.views._common import ensure, environment_order, is_htmx, load_tenant, paginate, tenant_context

from . import discovery, ownership, selectors, services
from .forms import FederatedResourceForm, dump_document
from .preview import authorize_preview, preview
from .preview_apply import StalePreview, federated_resource_apply_previewed
from .render import namespace_for
from .sensitive import shown


def _scope(request, slug, env):
    actor, tenant = load_tenant(request, slug)
    return actor, tenant, environment_get(actor, tenant, env)


def _context(actor, tenant, environment, **extra):
    context = tenant_context(actor, tenant, "federation")
    context.update({"environment": environment, "namespace": namespace_for(tenant.slug, environment.slug),
                    "can_manage": can(actor, "manage_applications", environment), **extra})
    return context


def _resource(request, slug, env, pk):
    actor, tenant, environment = _scope(request, slug, env)
    resource = selectors.resource_get(actor, pk, tenant=tenant, environment=environment)
    return actor, tenant, environment, resource


@login_required
def index(request):
    """The current tenant's federation overview, or a choice of tenants."""
    actor = Actor.from_request(request)
    tenants = tenants_visible_to(actor).order_by("name")
    current = request.session.get(SESSION_KEY)
    if current and tenants.filter(slug=current).exists():
        return redirect("federation:tenant", slug=current)
    if len(tenants) == 1:
        return redirect("federation:tenant", slug=tenants[0].slug)
    return render(request, "federation/index.html", {"tenants": tenants})


@login_required
def tenant_home(request, slug):
    actor, tenant = load_tenant(request, slug)
    environments = selectors.environments_with_counts(actor, tenant).order_by(environment_order(), "slug")
    bound = set(EnvironmentBinding.objects.filter(environment__tenant=tenant).values_list("environment", flat=True))
    for environment in environments:
        environment.is_bound = environment.pk in bound
    context = tenant_context(actor, tenant, "federation")
    context["environments"] = environments
    context["totals"] = {key: sum(getattr(e, key) for e in environments) for key in ("federated", "failed", "degraded")}
    return render(request, "federation/tenant.html", context)


@login_required
def resource_list(request, slug, env):
    actor, tenant, environment = _scope(request, slug, env)
    resources = selectors.resources_visible_to(actor).filter(environment=environment).order_by("ftype__kind", "name")
    bindings = EnvironmentBinding.objects.filter(environment=environment).select_related("cell", "cluster")
    context = _context(actor, tenant, environment, page_obj=paginate(request, resources), bindings=bindings)
    return render(request, "federation/list.html", context)


def _form_context(actor, tenant, environment, form, **extra):
    return _context(actor, tenant, environment, form=form, starters=form.starters(), **extra)


@login_required
def resource_create(request, slug, env):
    actor, tenant, environment = _scope(request, slug, env)
    ensure(request, actor, "manage_applications", environment, action="federation.resource.create")
    types = selectors.types_visible_to(actor).filter(enabled=True, namespaced=True)
    # ?type=<pk> starts from that type's starter (the type menu without JavaScript).
    chosen = types.filter(pk=request.GET["type"]).first() if request.GET.get("type", "").isdigit() else None
    form = FederatedResourceForm(request.POST or None, types=types, initial_type=chosen)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            resource = services.federated_resource_create(
                actor=actor, environment=environment, ftype=data["ftype"], name=data["name"],
                template=data["template"], placement=data["placement"], overrides=data["overrides"])
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("%(kind)s “%(name)s” was created; it is being propagated.")
                             % {"kind": resource.ftype.kind, "name": resource.name})
            return redirect(resource)
    context = _form_context(actor, tenant, environment, form, creating=True, types=types)
    return render(request, "federation/form.html", context)


@login_required
def resource_edit(request, slug, env, pk):
    """Edit form; also where the preview page's "Apply this change" posts, with the
    generation the preview was computed on (base_generation)."""
    actor, tenant, environment, resource = _resource(request, slug, env, pk)
    ensure(request, actor, "manage_applications", resource, action="federation.resource.update")
    owner = ownership.owner_of(resource)
    if owner is not None:  # an application instance's object: changed through the application only
        messages.error(request, _("This %(kind)s is managed by %(owner)s; change it there.")
                       % {"kind": resource.ftype.kind, "owner": owner.label})
        return redirect(resource)
    form = FederatedResourceForm.for_resource(resource, request.POST or None)
    from_preview = "base_generation" in request.POST
    if request.method == "POST" and form.is_valid():
        data = {k: form.cleaned_data[k] for k in ("template", "placement", "overrides")}
        try:
            if from_preview:
                base = request.POST["base_generation"]
                resource = federated_resource_apply_previewed(
                    actor=actor, resource=resource, base_generation=int(base) if base.isdigit() else None, **data)
            else:
                resource = services.federated_resource_update(actor=actor, resource=resource, **data)
        except StalePreview as exc:
            resource.refresh_from_db()
            return _preview_page(request, actor, tenant, environment, resource, form, notice=exc.message)
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Saved: generation %(gen)s is being propagated.") % {"gen": resource.generation})
            return redirect(resource)
    context = _form_context(actor, tenant, environment, form, creating=False, resource=resource)
    return render(request, "federation/form.html", context)


@login_required
@require_POST
def resource_delete(request, slug, env, pk):
    actor, tenant, environment, resource = _resource(request, slug, env, pk)
    try:
        services.federated_resource_delete(actor=actor, resource=resource)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(resource)
    messages.success(request, _("“%(name)s” is being removed from every member cluster.") % {"name": resource.name})
    return redirect("federation:list", slug=tenant.slug, env=environment.slug)


def _status_context(resource) -> dict:
    return {"resource": resource, "rows": selectors.propagations_of(resource), "status": resource.status or {}}


@login_required
def resource_detail(request, slug, env, pk):
    actor, tenant, environment, resource = _resource(request, slug, env, pk)
    template, overrides = shown(resource)
    context = _context(actor, tenant, environment, **_status_context(resource),
                       template_yaml=dump_document(template),
                       placement_yaml=dump_document(resource.placement) or "{}",
                       overrides_yaml=dump_document(overrides) or "[]",
                       is_service=discovery.is_service(resource), owner=ownership.owner_of(resource))
    return render(request, "federation/detail.html", context)


@login_required
def resource_status(request, slug, env, pk):
    """The per-cluster table and totals, refreshed by the detail page on live status events (static/js/live.js)."""
    _actor, _tenant, _environment, resource = _resource(request, slug, env, pk)
    return render(request, "federation/_status.html", _status_context(resource))


@login_required
def resource_preview(request, slug, env, pk):
    """GET: what the saved resource renders to per cluster vs. what each holds now.
    POST (from the edit form): the same for the submitted, unsaved change, which
    the page can then apply."""
    actor, tenant, environment, resource = _resource(request, slug, env, pk)
    authorize_preview(actor, resource)  # before the form is read: a refused preview learns nothing
    form = FederatedResourceForm.for_resource(resource, request.POST) if request.method == "POST" else None
    return _preview_page(request, actor, tenant, environment, resource, form)


def _preview_page(request, actor, tenant, environment, resource, form, notice=None):
    """The preview of `form`'s input (None: of the saved resource); `notice` says why
    it is shown again (an apply refused because the resource changed meanwhile)."""
    proposed, error, entries = {}, None, []
    if form is not None:
        if form.is_valid():
            proposed = {k: form.cleaned_data[k] for k in ("template", "placement", "overrides")}
        else:
            error = next(iter(form.errors.values()))[0]
    if error is None:
        try:
            entries = preview(actor=actor, resource=resource, **proposed)
        except DomainError as exc:
            error = exc.message
    for entry in entries:
        entry["diff_lines"] = entry["diff"].splitlines()
    # What "Apply this change" posts back: the input exactly as previewed, and the
    # generation it was compared with.
    apply = ({"base_generation": resource.generation,
              "fields": [(k, request.POST.get(k, "")) for k in ("template", "placement", "overrides")]}
             if proposed and not error else None)
    context = _context(actor, tenant, environment, resource=resource, entries=entries, error=error,
                       proposed=bool(proposed), apply=apply, notice=notice)
    return render(request, "federation/preview.html", context, status=409 if notice else 400 if error else 200)


@login_required
def service_discovery(request, slug, env, pk):
    actor, tenant, environment, resource = _resource(request, slug, env, pk)
    try:
        endpoints, error = discovery.service_endpoints(resource), None
    except DomainError as exc:
        endpoints, error = None, exc.message
    context = _context(actor, tenant, environment, resource=resource, endpoints=endpoints, error=error)
    template = "federation/_endpoints.html" if is_htmx(request) else "federation/discovery.html"
    return render(request, template, context, status=400 if error else 200)
