"""API routes of builds, added to /api/v1/ by paas/api/urls.py: builds on the shared router,
artifacts as explicit paths (the upload is a PUT on the collection, which routers do not map)."""
from django.urls import re_path

from .views import ArtifactViewSet, BuildViewSet

# Any non-slash text reaches the view, so a malformed id is the API's JSON 404 (see TenantChildViewSet).
APP = r"applications/(?P<app_id>[^/]+)"


def register(router) -> None:
    router.register(rf"{APP}/builds", BuildViewSet, basename="build")


urlpatterns = [
    re_path(rf"^{APP}/artifacts/$", ArtifactViewSet.as_view({"get": "list", "put": "upload"}), name="artifact-list"),
    re_path(rf"^{APP}/artifacts/(?P<pk>[^/]+)/$", ArtifactViewSet.as_view({"get": "retrieve"}),
            name="artifact-detail"),
]
