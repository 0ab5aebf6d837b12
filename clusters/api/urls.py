"""API routes of this app, added to the project's /api/v1/ router by paas/api/urls.py."""
from . import views


def register(router) -> None:
    """Register this app's viewsets on the shared DRF router."""
    router.register("regions", views.RegionViewSet, basename="region")
    router.register("zones", views.ZoneViewSet, basename="zone")
    router.register("cells", views.CellViewSet, basename="cell")
    router.register("clusters", views.ClusterViewSet, basename="cluster")
    router.register("platform-switch", views.PlatformSwitchViewSet, basename="platform-switch")
    router.register("environment-bindings", views.BindingViewSet, basename="environment-binding")
    router.register("binding-requests", views.BindingRequestViewSet, basename="binding-request")
