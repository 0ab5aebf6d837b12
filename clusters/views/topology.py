"""The topology overview and the region, zone and cell pages (create, edit, delete,
mark failed / recovered)."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from clusters import selectors, services
from clusters.federation import handoff, impact
from clusters.forms import CellForm, RegionForm, ZoneForm
from paas.actors import Actor
from paas.errors import DomainError
from paas.web.forms import add_domain_error

from ._common import back, platform_perms, require_platform, run_action

# kind -> how to create, edit, delete and find it, and where to go afterwards.
KINDS = {
    "region": {"form": RegionForm, "create": services.region_create, "update": services.region_update,
               "delete": services.region_delete, "get": selectors.region_get, "parent": None,
               "label": gettext_lazy("region"), "icon": "globe2"},
    "zone": {"form": ZoneForm, "create": services.zone_create, "update": services.zone_update,
             "delete": services.zone_delete, "get": selectors.zone_get, "parent": "region",
             "label": gettext_lazy("zone"), "icon": "building"},
    "cell": {"form": CellForm, "create": services.cell_create, "update": services.cell_update,
             "delete": services.cell_delete, "get": selectors.cell_get, "parent": "zone",
             "label": gettext_lazy("cell"), "icon": "grid-3x3-gap"},
}


def _page_of(kind: str, obj) -> str:
    if kind == "region":
        return reverse("clusters:list") + f"#region-{obj.slug}"
    return reverse(f"clusters:{kind}", args=[obj.slug])


@login_required
def overview(request):
    actor = Actor.from_request(request)
    tree = selectors.topology(actor)
    clusters = [c for region in tree for zone in region.zones for _cell, cs in zone.cells for c in cs]
    context = {
        "tree": tree, "cperms": platform_perms(actor), "switch": selectors.platform_switch(),
        "is_operator": selectors.is_operator(actor),
        "totals": {"regions": len(tree), "zones": sum(len(r.zones) for r in tree),
                   "cells": sum(len(z.cells) for r in tree for z in r.zones), "clusters": len(clusters),
                   "healthy": sum(1 for c in clusters if c.health == "healthy"),
                   "nodes": sum(c.node_count or 0 for c in clusters)},
    }
    return render(request, "clusters/list.html", context)


@login_required
def zone_page(request, slug):
    actor = Actor.from_request(request)
    zone = selectors.zone_get(actor, slug)
    clusters = list(selectors.clusters_visible_to(actor).filter(cell__zone=zone).order_by("slug"))
    cells = [(cell, [c for c in clusters if c.cell_id == cell.pk])
             for cell in selectors.cells_visible_to(actor).filter(zone=zone).order_by("slug")]
    return render(request, "clusters/zone.html", {"zone": zone, "cells": cells, "cperms": platform_perms(actor),
                                                  "switch": selectors.platform_switch()})


@login_required
def cell_page(request, slug):
    actor = Actor.from_request(request)
    cell = selectors.cell_get(actor, slug)
    clusters = selectors.clusters_visible_to(actor).filter(cell=cell).order_by("slug")
    bindings = selectors.bindings_visible_to(actor).filter(cell=cell).order_by("environment__tenant__slug")
    perms = platform_perms(actor)
    return render(request, "clusters/cell.html", {"cell": cell, "clusters": clusters, "bindings": bindings,
                                                  "cperms": perms, "switch": selectors.platform_switch(),
                                                  "handoffs": handoff.pending() if perms["mark_cell_failed"] else []})


@login_required
@require_POST
def handoff_force(request, pk):
    """Release a stalled handoff without waiting for its new side any longer."""
    from clusters.federation.models import Handoff

    actor = Actor.from_request(request)
    require_platform(request, actor, "mark_cell_failed", action="federation.handoff.force",
                     target=("federation.handoff", str(pk), ""))
    found = Handoff.objects.filter(pk=pk).select_related("resource").first()
    if found is not None:
        handoff.force(actor=actor, handoff=found)
        messages.success(request, _("Released: the old replicas of %(name)s are being removed.")
                         % {"name": found.resource})
    return back(request, "clusters:list")


@login_required
def topology_create(request, kind):
    spec = KINDS[kind]
    actor = Actor.from_request(request)
    require_platform(request, actor, f"add_{kind}", action=f"topology.{kind}.create",
                     target=(f"clusters.{kind}", "", request.POST.get("slug", "")))
    initial = {spec["parent"]: request.GET.get(spec["parent"])} if spec["parent"] else {}
    form = spec["form"](request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            obj = spec["create"](actor=actor, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Created the %(kind)s “%(name)s”.") % {"kind": spec["label"],
                                                                             "name": obj.name})
            return redirect(_page_of(kind, obj))
    return render(request, "clusters/topology_form.html", {"form": form, "kind": kind, "spec": spec,
                                                           "creating": True})


@login_required
def topology_edit(request, kind, slug):
    spec = KINDS[kind]
    actor = Actor.from_request(request)
    require_platform(request, actor, f"change_{kind}", action=f"topology.{kind}.update",
                     target=(f"clusters.{kind}", "", slug))
    obj = spec["get"](actor, slug)
    initial = {"name": obj.name, "labels": obj.labels, "description": getattr(obj, "description", "")}
    form = spec["form"](request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            spec["update"](actor=actor, **{kind: obj}, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Saved the %(kind)s “%(name)s”.") % {"kind": spec["label"],
                                                                           "name": form.cleaned_data["name"]})
            return redirect(_page_of(kind, obj))
    return render(request, "clusters/topology_form.html", {"form": form, "kind": kind, "spec": spec,
                                                           "creating": False, "obj": obj})


@login_required
@require_POST
def topology_delete(request, kind, slug):
    spec = KINDS[kind]
    actor = Actor.from_request(request)
    require_platform(request, actor, f"delete_{kind}", action=f"topology.{kind}.delete",
                     target=(f"clusters.{kind}", "", slug))
    obj = spec["get"](actor, slug)
    try:
        spec["delete"](actor=actor, **{kind: obj})
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(_page_of(kind, obj))
    messages.success(request, _("Deleted the %(kind)s “%(name)s”.") % {"kind": spec["label"], "name": obj.name})
    return redirect("clusters:list")


def _drill(kind: str, service, done, failed: bool):
    """POST: mark the zone or cell failed / recovered. GET (no JavaScript, or a bookmarked
    URL): a confirmation page showing the impact first."""
    @login_required
    def view(request, slug):
        actor = Actor.from_request(request)
        require_platform(request, actor, f"mark_{kind}_failed", action=f"topology.{kind}.mark_failed",
                         target=(f"clusters.{kind}", "", slug))
        obj = KINDS[kind]["get"](actor, slug)
        if request.method != "POST":
            return render(request, "clusters/drill_confirm.html", {
                "kind": kind, "obj": obj, "failed": failed, "impact": impact.preview(obj, failed=failed)})
        return run_action(request, service, obj, kind, str(done), reverse(f"clusters:{kind}", args=[slug]))

    return view


def _impact(kind: str):
    @login_required
    @require_GET
    def view(request, slug):
        """The impact preview as a fragment, shown in the mark-failed / recovered confirmation."""
        actor = Actor.from_request(request)
        require_platform(request, actor, f"mark_{kind}_failed", action=f"topology.{kind}.mark_failed",
                         target=(f"clusters.{kind}", "", slug))
        obj = KINDS[kind]["get"](actor, slug)
        failed = request.GET.get("failed", "1") not in ("0", "false", "")
        return render(request, "clusters/_impact.html", {"impact": impact.preview(obj, failed=failed)})

    return view


zone_impact, cell_impact = _impact("zone"), _impact("cell")


zone_fail = _drill("zone", services.zone_mark_failed,
                   gettext_lazy("Zone “%(name)s” is marked failed: its workloads are being re-placed."), True)
zone_recover = _drill("zone", services.zone_mark_recovered,
                      gettext_lazy("Zone “%(name)s” is marked recovered and takes placements again."), False)
cell_fail = _drill("cell", services.cell_mark_failed,
                   gettext_lazy("Cell “%(name)s” is marked failed: its workloads are being re-placed."), True)
cell_recover = _drill("cell", services.cell_mark_recovered,
                      gettext_lazy("Cell “%(name)s” is marked recovered and takes placements again."), False)
