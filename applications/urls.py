"""/applications/: applications of the tenants a person sees, their components, dependencies,
instances per environment and revisions. Dockerfile and build pages hang under
applications/<id>/dockerfile/ and applications/<id>/builds/ (their own URL modules)."""
from django.urls import path

from . import views, views_delivery

app_name = "applications"
_APP = "<int:app_id>/"
_INSTANCE = f"{_APP}instances/<slug:env>/"

urlpatterns = [
    path("", views.application_list, name="list"),
    path("new/", views.application_create, name="create"),
    path(_APP, views.application_detail, name="detail"),
    path(f"{_APP}edit/", views.application_edit, name="edit"),
    path(f"{_APP}delete/", views.application_delete, name="delete"),
    path(f"{_APP}dependencies/add/", views.dependency_add, name="dependency-add"),
    path(f"{_APP}dependencies/<int:dep_id>/remove/", views.dependency_remove, name="dependency-remove"),
    path(f"{_APP}components/new/", views_delivery.component_create, name="component-create"),
    path(f"{_APP}components/<slug:name>/edit/", views_delivery.component_edit, name="component-edit"),
    path(f"{_APP}components/<slug:name>/delete/", views_delivery.component_delete, name="component-delete"),
    path(_INSTANCE, views_delivery.instance_detail, name="instance"),
    path(f"{_INSTANCE}status/", views_delivery.instance_status, name="instance-status"),
    path(f"{_INSTANCE}edit/", views_delivery.instance_edit, name="instance-edit"),
    path(f"{_INSTANCE}apply/", views_delivery.instance_apply, name="instance-apply"),
    path(f"{_APP}revisions/new/", views_delivery.revision_create, name="revision-create"),
    path(f"{_APP}revisions/diff/", views_delivery.revision_diff, name="revision-diff"),
    path(f"{_APP}revisions/<int:pk>/", views_delivery.revision_detail, name="revision"),
    path(f"{_APP}revisions/<int:pk>/promote/", views_delivery.revision_promote, name="revision-promote"),
]
