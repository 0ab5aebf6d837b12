from django.urls import path

from . import health, search_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("set-tenant/", views.set_tenant, name="set-tenant"),
    path("search/", search_views.search_page, name="search"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Sections of later releases: nav links land on a proper page, not a 404.
    path("coming-soon/<slug:section>/", views.coming_soon, name="coming-soon"),
]
