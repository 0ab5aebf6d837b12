"""API routes of this app, added to the project's /api/v1/ router by paas/api/urls.py."""
from .views import (
    APP_PREFIX,
    ApplicationViewSet,
    ComponentViewSet,
    DependencyViewSet,
    InstanceViewSet,
    RevisionViewSet,
)


def register(router) -> None:
    router.register("applications", ApplicationViewSet, basename="application")
    router.register(rf"{APP_PREFIX}/components", ComponentViewSet, basename="application-component")
    router.register(rf"{APP_PREFIX}/dependencies", DependencyViewSet, basename="application-dependency")
    router.register(rf"{APP_PREFIX}/instances", InstanceViewSet, basename="application-instance")
    router.register(rf"{APP_PREFIX}/revisions", RevisionViewSet, basename="application-revision")
