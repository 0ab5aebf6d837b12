"""Cluster pages: detail, register, edit, replace credentials, cordon, stop switch,
health check and removal. Credentials are accepted here and never rendered."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from clusters import health, selectors, services
from clusters.forms import ClusterEditForm, ClusterRegisterForm, CredentialsForm
from paas.actors import Actor
from paas.errors import DomainError
from paas.web.forms import add_domain_error

from ._common import platform_perms, require_platform, run_action


def _no_store(response):
    # Forms that receive a kubeconfig: no browser or proxy keeps a copy of the page.
    add_never_cache_headers(response)
    return response


@login_required
def cluster_detail(request, slug):
    actor = Actor.from_request(request)
    cluster = selectors.cluster_get(actor, slug)
    bindings = selectors.bindings_visible_to(actor).filter(Q(cluster=cluster) | Q(cell_id=cluster.cell_id))
    context = {"cluster": cluster, "bindings": bindings.order_by("environment__tenant__slug", "environment__slug"),
               "topology_labels": sorted(cluster.topology_labels().items()), "cperms": platform_perms(actor),
               "switch": selectors.platform_switch()}
    return render(request, "clusters/detail.html", context)


@login_required
def cluster_register(request):
    actor = Actor.from_request(request)
    require_platform(request, actor, "add_cluster", action="cluster.register",
                     target=("clusters.cluster", "", request.POST.get("slug", "")))
    form = ClusterRegisterForm(request.POST or None, request.FILES or None,
                               initial={"cell": request.GET.get("cell"), "probe": True})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            cluster = services.cluster_register(
                actor=actor, cell=data["cell"], name=data["name"], slug=data["slug"], labels=data["labels"],
                weight=data["weight"], kubeconfig_text=form.kubeconfig_text(), probe=data["probe"])
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Cluster “%(name)s” is registered. Its credentials are stored encrypted "
                                        "and will not be shown again.") % {"name": cluster.name})
            return redirect(cluster)
    return _no_store(render(request, "clusters/register.html", {"form": form}))


@login_required
def cluster_edit(request, slug):
    actor = Actor.from_request(request)
    require_platform(request, actor, "change_cluster", action="cluster.update",
                     target=("clusters.cluster", "", slug))
    cluster = selectors.cluster_get(actor, slug)
    form = ClusterEditForm.for_cluster(cluster, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.cluster_update(actor=actor, cluster=cluster, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Cluster “%(name)s” saved.") % {"name": form.cleaned_data["name"]})
            return redirect(cluster)
    return render(request, "clusters/cluster_form.html", {"form": form, "cluster": cluster})


@login_required
def cluster_credentials(request, slug):
    actor = Actor.from_request(request)
    require_platform(request, actor, "change_cluster", action="cluster.credentials.replace",
                     target=("clusters.cluster", "", slug))
    cluster = selectors.cluster_get(actor, slug)
    form = CredentialsForm(request.POST or None, request.FILES or None, initial={"probe": True})
    if request.method == "POST" and form.is_valid():
        try:
            services.cluster_replace_credentials(actor=actor, cluster=cluster, kubeconfig_text=form.kubeconfig_text(),
                                                 probe=form.cleaned_data["probe"])
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("The credentials of “%(name)s” were replaced.") % {"name": cluster.name})
            return redirect(cluster)
    return _no_store(render(request, "clusters/credentials_form.html", {"form": form, "cluster": cluster}))


def _cluster_action(perm: str, action: str, service, done):
    @login_required
    @require_POST
    def view(request, slug):
        actor = Actor.from_request(request)
        require_platform(request, actor, perm, action=action, target=("clusters.cluster", "", slug))
        cluster = selectors.cluster_get(actor, slug)
        return run_action(request, service, cluster, "cluster", str(done), cluster.get_absolute_url())

    return view


cluster_cordon = _cluster_action(
    "cordon_cluster", "cluster.cordon", services.cluster_cordon,
    gettext_lazy("Cluster “%(name)s” is cordoned: it takes no new placements and its workloads move away."))
cluster_uncordon = _cluster_action(
    "cordon_cluster", "cluster.uncordon", services.cluster_uncordon,
    gettext_lazy("Cluster “%(name)s” is uncordoned and takes placements again."))
cluster_pause = _cluster_action(
    "pause_propagation", "cluster.propagation.pause", services.cluster_pause_propagation,
    gettext_lazy("Propagation to “%(name)s” is stopped: nothing is pushed to it until it is resumed."))
cluster_resume = _cluster_action(
    "pause_propagation", "cluster.propagation.resume", services.cluster_resume_propagation,
    gettext_lazy("Propagation to “%(name)s” is resumed."))


@login_required
@require_POST
def cluster_check(request, slug):
    """Run the health check now instead of waiting for the next beat."""
    actor = Actor.from_request(request)
    require_platform(request, actor, "change_cluster", action="cluster.health.check",
                     target=("clusters.cluster", "", slug))
    cluster = selectors.cluster_get(actor, slug)
    cluster = health.check_cluster(cluster.pk, actor=actor)
    if cluster.health == cluster.Health.HEALTHY:
        messages.success(request, _("“%(name)s” is healthy.") % {"name": cluster.name})
    else:
        messages.warning(request, _("“%(name)s” is %(health)s: %(error)s")
                         % {"name": cluster.name, "health": cluster.get_health_display(), "error": cluster.last_error})
    return redirect(cluster)


@login_required
@require_POST
def cluster_remove(request, slug):
    actor = Actor.from_request(request)
    require_platform(request, actor, "delete_cluster", action="cluster.remove", target=("clusters.cluster", "", slug))
    cluster = selectors.cluster_get(actor, slug)
    try:
        services.cluster_remove(actor=actor, cluster=cluster)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(cluster)
    messages.success(request, _("Cluster “%(name)s” was removed from the platform.") % {"name": cluster.name})
    return redirect("clusters:list")
