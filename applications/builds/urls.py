"""/applications/<app_id>/builds/: the build pages of one application."""
from django.urls import path

from . import views

app_name = "builds"

urlpatterns = [
    path("", views.build_list, name="list"),
    path("new/", views.build_start, name="start"),
    path("artifacts/upload/", views.artifact_upload, name="artifact-upload"),
    path("<int:number>/", views.build_detail, name="detail"),
    path("<int:number>/cancel/", views.build_cancel, name="cancel"),
]
