"""/applications/<app_id>/dockerfile/: the Dockerfile pages of one application (paas/urls.py)."""
from django.urls import path

from . import views

app_name = "dockerfiles"

urlpatterns = [
    path("", views.editor, name="editor"),
    path("lint/", views.lint_fragment, name="lint"),
    path("generate/", views.generate, name="generate"),
    path("history/", views.history, name="history"),
    path("versions/<int:number>/", views.version_detail, name="version"),
    path("diff/", views.diff_page, name="diff"),
]
