"""/api/: the versioned REST API (v1/), its OpenAPI schema and the documentation pages.

The docs pages use only the vendored drf-spectacular-sidecar files (see docs.py) and,
like the schema, need a signed-in user or a token (SPECTACULAR_SETTINGS.SERVE_PERMISSIONS).
"""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from applications.api.urls import register as register_application_api
from applications.builds.api import urls as builds_api
from applications.dockerfiles.api import views as dockerfile_views
from applications.registry.api.urls import register as register_registry_api
from clusters.api.urls import register as register_cluster_api
from clusters.federation.api.urls import register as register_federation_api
from paas.audit.api import AuditEventViewSet
from paas.web.search_views import SearchView
from releases.api.urls import register as register_release_api
from tenants.api import views as tenant_views

from . import docs, views
from .base import TENANT_PREFIX

app_name = "api"

router = DefaultRouter()
router.register("tenants", tenant_views.TenantViewSet, basename="tenant")
router.register(rf"{TENANT_PREFIX}/environments", tenant_views.EnvironmentViewSet, basename="environment")
router.register(rf"{TENANT_PREFIX}/members", tenant_views.MemberViewSet, basename="member")
router.register(rf"{TENANT_PREFIX}/quotas", tenant_views.QuotaViewSet, basename="quota")
router.register(rf"{TENANT_PREFIX}/tokens", tenant_views.TokenViewSet, basename="token")
router.register(rf"{TENANT_PREFIX}/quota-requests", tenant_views.QuotaRequestViewSet, basename="quota-request")
router.register("quota-requests", tenant_views.PlatformQuotaRequestViewSet, basename="platform-quota-request")

router.register("audit-events", AuditEventViewSet, basename="audit-event")
register_cluster_api(router)
register_federation_api(router)
dockerfile_views.register(router)
register_application_api(router)
builds_api.register(router)
register_registry_api(router)
register_release_api(router)

urlpatterns = [
    path("v1/me/", views.MeView.as_view(), name="me"),
    path("v1/search/", SearchView.as_view(), name="search"),
    path("v1/dockerfile-lint/", dockerfile_views.DockerfileLintView.as_view(), name="dockerfile-lint"),
    path("v1/dockerfile-templates/", dockerfile_views.DockerfileTemplatesView.as_view(),
         name="dockerfile-templates"),
    path("v1/", include(builds_api.urlpatterns)),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", docs.SwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", docs.LocalRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("redoc/redoc.standalone.js", docs.redoc_bundle, name="redoc-bundle"),
]
