"""/clusters/: clusters live at <slug>/; everything else under "-/", which no slug can start with."""
from django.urls import path

from .views import binding_requests, clusters, platform, topology

app_name = "clusters"

urlpatterns = [
    path("", topology.overview, name="list"),
    path("-/register/", clusters.cluster_register, name="register"),
    path("-/switch/", platform.switch, name="switch"),
    path("-/bindings/", platform.bindings, name="bindings"),
    path("-/bindings/add/", platform.binding_add, name="binding-add"),
    path("-/bindings/<int:pk>/remove/", platform.binding_remove, name="binding-remove"),
    path("-/handoffs/<int:pk>/force/", topology.handoff_force, name="handoff-force"),
    path("-/binding-requests/", binding_requests.binding_requests, name="binding-requests"),
    path("-/binding-requests/new/", binding_requests.binding_request_create, name="binding-request-create"),
    path("-/binding-requests/<int:pk>/decide/", binding_requests.binding_request_decide,
         name="binding-request-decide"),
    path("-/binding-requests/<int:pk>/cancel/", binding_requests.binding_request_cancel,
         name="binding-request-cancel"),
    path("-/new/region/", topology.topology_create, {"kind": "region"}, name="region-create"),
    path("-/new/zone/", topology.topology_create, {"kind": "zone"}, name="zone-create"),
    path("-/new/cell/", topology.topology_create, {"kind": "cell"}, name="cell-create"),
    path("-/regions/<slug:slug>/edit/", topology.topology_edit, {"kind": "region"}, name="region-edit"),
    path("-/regions/<slug:slug>/delete/", topology.topology_delete, {"kind": "region"}, name="region-delete"),
    path("-/zones/<slug:slug>/", topology.zone_page, name="zone"),
    path("-/zones/<slug:slug>/edit/", topology.topology_edit, {"kind": "zone"}, name="zone-edit"),
    path("-/zones/<slug:slug>/delete/", topology.topology_delete, {"kind": "zone"}, name="zone-delete"),
    path("-/zones/<slug:slug>/fail/", topology.zone_fail, name="zone-fail"),
    path("-/zones/<slug:slug>/recover/", topology.zone_recover, name="zone-recover"),
    path("-/zones/<slug:slug>/impact/", topology.zone_impact, name="zone-impact"),
    path("-/cells/<slug:slug>/", topology.cell_page, name="cell"),
    path("-/cells/<slug:slug>/edit/", topology.topology_edit, {"kind": "cell"}, name="cell-edit"),
    path("-/cells/<slug:slug>/delete/", topology.topology_delete, {"kind": "cell"}, name="cell-delete"),
    path("-/cells/<slug:slug>/fail/", topology.cell_fail, name="cell-fail"),
    path("-/cells/<slug:slug>/recover/", topology.cell_recover, name="cell-recover"),
    path("-/cells/<slug:slug>/impact/", topology.cell_impact, name="cell-impact"),
    path("<slug:slug>/", clusters.cluster_detail, name="detail"),
    path("<slug:slug>/edit/", clusters.cluster_edit, name="edit"),
    path("<slug:slug>/credentials/", clusters.cluster_credentials, name="credentials"),
    path("<slug:slug>/cordon/", clusters.cluster_cordon, name="cordon"),
    path("<slug:slug>/uncordon/", clusters.cluster_uncordon, name="uncordon"),
    path("<slug:slug>/pause/", clusters.cluster_pause, name="pause"),
    path("<slug:slug>/resume/", clusters.cluster_resume, name="resume"),
    path("<slug:slug>/check/", clusters.cluster_check, name="check"),
    path("<slug:slug>/remove/", clusters.cluster_remove, name="remove"),
]
