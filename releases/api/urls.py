"""API routes of this app, added to the project's /api/v1/ router by paas/api/urls.py."""
from applications.api.views import APP_PREFIX

from .views import ReleaseViewSet, TrafficProviderViewSet


def register(router) -> None:
    router.register("releases", ReleaseViewSet, basename="release")
    router.register(rf"{APP_PREFIX}/instances/(?P<env>[^/]+)/traffic-providers", TrafficProviderViewSet,
                    basename="instance-traffic-provider")
