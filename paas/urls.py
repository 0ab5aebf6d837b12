from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from clusters.federation.metrics import metrics_view
from clusters.federation.views_dashboard import ops
from paas.web.admin_login import AdminLoginForm

urlpatterns = [
    path("", include("paas.web.urls")),
    path("tenants/", include("tenants.urls")),
    path("audit/", include("paas.audit.urls")),
    path("clusters/", include("clusters.urls")),
    path("federation/", include("clusters.federation.urls")),
    path("applications/<int:app_id>/dockerfile/", include("applications.dockerfiles.urls")),
    path("applications/", include("applications.urls")),
    path("applications/<int:app_id>/builds/", include("applications.builds.urls")),
    path("registry/", include("applications.registry.urls")),
    path("releases/", include("releases.urls")),
    path("ops/", ops, name="ops"),  # the operators' dashboard
    path("metrics", metrics_view, name="metrics"),
    path("api/", include("paas.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    # The built-in OCI registry (distribution spec): its own auth, errors and no CSRF.
    path("", include("applications.registry.v2.urls")),
]

admin.site.site_header = settings.PAAS_PRODUCT_NAME
admin.site.site_title = settings.PAAS_PRODUCT_NAME
# One sign-in path: /admin/login/ uses the portal's lockout and audit.
admin.site.login_form = AdminLoginForm

# /api/ answers these in its JSON error shape, pages keep the HTML ones (paas.api.errors).
handler400 = "paas.api.errors.bad_request"
handler403 = "paas.api.errors.permission_denied"
handler404 = "paas.api.errors.page_not_found"
handler500 = "paas.api.errors.server_error"
