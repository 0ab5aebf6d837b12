"""The global stop switch and the environment bindings page."""
from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clusters import selectors, services
from clusters.forms import BindingForm, SwitchForm
from paas.actors import Actor
from paas.errors import DomainError
from paas.web.forms import add_domain_error

from ._common import back, platform_perms, require_platform


@login_required
def switch(request):
    actor = Actor.from_request(request)
    require_platform(request, actor, "stop_all_propagation", action="platform.propagation.switch",
                     target=("clusters.platformswitch", "1", "platform switch"))
    current = selectors.platform_switch()
    form = SwitchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        stop = request.POST.get("action") == "stop"
        try:
            if stop:
                services.platform_stop_propagation(actor=actor, reason=form.cleaned_data["reason"])
            else:
                services.platform_resume_propagation(actor=actor, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("All propagation is stopped.") if stop else _("Propagation is running again."))
            return redirect("clusters:switch")
    return render(request, "clusters/switch.html", {"switch": current, "form": form})


@login_required
def bindings(request):
    actor = Actor.from_request(request)
    environments = selectors.environments_for_bindings(actor)
    tenant = request.GET.get("tenant", "")
    if tenant:
        environments = environments.filter(tenant__slug=tenant)
    bound: dict[int, list] = {}
    for binding in selectors.bindings_visible_to(actor).filter(environment__in=environments):
        bound.setdefault(binding.environment_id, []).append(binding)
    rows = [(env, sorted(bound.get(env.pk, []), key=str)) for env in environments]
    perms = platform_perms(actor)
    form = None
    if perms["add_environmentbinding"]:
        form = BindingForm(cells=selectors.cells_visible_to(actor).order_by("slug"),
                           clusters=selectors.clusters_visible_to(actor).order_by("slug"))
    groups = [(t, list(envs)) for t, envs in groupby(rows, key=lambda row: row[0].tenant)]
    return render(request, "clusters/bindings.html", {"groups": groups, "cperms": perms, "form": form,
                                                      "tenant_filter": tenant})


@login_required
@require_POST
def binding_add(request):
    actor = Actor.from_request(request)
    require_platform(request, actor, "add_environmentbinding", action="cluster.binding.create",
                     target=("clusters.environmentbinding", "", request.POST.get("target", "")))
    form = BindingForm(request.POST, cells=selectors.cells_visible_to(actor),
                       clusters=selectors.clusters_visible_to(actor))
    if not form.is_valid():
        messages.error(request, _("Choose an environment and a cell or cluster."))
        return back(request, "clusters:bindings")
    environment = selectors.environments_for_bindings(actor).filter(pk=form.cleaned_data["environment"]).first()
    if environment is None:
        raise Http404("No such environment.")
    kind, slug = form.target_parts()
    target = {kind: selectors.cell_get(actor, slug) if kind == "cell" else selectors.cluster_get(actor, slug)}
    try:
        services.environment_bind(actor=actor, environment=environment, **target)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(environment)s may now place workloads on %(target)s.")
                         % {"environment": environment, "target": target[kind].name})
    return back(request, "clusters:bindings")


@login_required
@require_POST
def binding_remove(request, pk):
    actor = Actor.from_request(request)
    require_platform(request, actor, "delete_environmentbinding", action="cluster.binding.delete",
                     target=("clusters.environmentbinding", str(pk), ""))
    binding = selectors.binding_get(actor, pk)
    label = str(binding)
    try:
        services.environment_unbind(actor=actor, binding=binding)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Removed the binding %(binding)s.") % {"binding": label})
    return back(request, "clusters:bindings")
