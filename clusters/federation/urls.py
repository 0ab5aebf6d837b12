"""/federation/: pages of federated resources per tenant environment, and the
operators' federated types ("-" can never be a tenant slug, so no clash)."""
from django.urls import path

from . import views, views_drill, views_ops, views_quota

app_name = "federation"
_DRILL = "<slug:slug>/<slug:env>/<int:pk>/clusters/<slug:cluster>/"

urlpatterns = [
    path("", views.index, name="index"),
    path("-/types/", views_ops.type_list, name="types"),
    path("-/types/register/", views_ops.type_register, name="type-register"),
    path("-/types/<int:pk>/toggle/", views_ops.type_toggle, name="type-toggle"),
    path("-/types/<int:pk>/sensitive/", views_ops.type_sensitive, name="type-sensitive"),
    path("<slug:slug>/", views.tenant_home, name="tenant"),
    path("<slug:slug>/<slug:env>/", views.resource_list, name="list"),
    path("<slug:slug>/<slug:env>/new/", views.resource_create, name="create"),
    path("<slug:slug>/<slug:env>/<int:pk>/", views.resource_detail, name="detail"),
    path("<slug:slug>/<slug:env>/<int:pk>/status/", views.resource_status, name="status"),
    path("<slug:slug>/<slug:env>/<int:pk>/edit/", views.resource_edit, name="edit"),
    path("<slug:slug>/<slug:env>/<int:pk>/delete/", views.resource_delete, name="delete"),
    path("<slug:slug>/<slug:env>/<int:pk>/preview/", views.resource_preview, name="preview"),
    path("<slug:slug>/<slug:env>/<int:pk>/endpoints/", views.service_discovery, name="discovery"),
    # Drill-down into a workload in one member cluster (views_drill): tabs, fragments, logs.
    path("<slug:slug>/<slug:env>/<int:pk>/clusters/<slug:cluster>/", views_drill.cluster_pods, name="cluster-pods"),
    path(f"{_DRILL}events/", views_drill.cluster_events, name="cluster-events"),
    path(f"{_DRILL}logs/", views_drill.cluster_logs, name="cluster-logs"),
    path(f"{_DRILL}pods.part/", views_drill.pods_part, name="cluster-pods-part"),
    path(f"{_DRILL}events.part/", views_drill.events_part, name="cluster-events-part"),
    path(f"{_DRILL}logs/pods.part/", views_drill.log_pods_part, name="cluster-log-pods-part"),
    path(f"{_DRILL}logs/text/", views_drill.log_text, name="cluster-log-text"),
    path(f"{_DRILL}logs/download/", views_drill.log_download, name="cluster-log-download"),
    path(f"{_DRILL}logs/follow/", views_drill.log_follow, name="cluster-log-follow"),
    # The form's quota warning, refreshed while the user edits (nothing is saved).
    path("<slug:slug>/<slug:env>/new/quota-impact/", views_quota.quota_impact_new, name="quota-impact-new"),
    path("<slug:slug>/<slug:env>/<int:pk>/quota-impact/", views_quota.quota_impact_edit, name="quota-impact-edit"),
    path("<slug:slug>/<slug:env>/quota-usage/", views_quota.quota_usage_fragment, name="quota-usage"),
]
