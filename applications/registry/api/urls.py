"""API routes of the registry, added to the project's /api/v1/ router by paas/api/urls.py."""
from . import views


def register(router) -> None:
    router.register("registry/repositories", views.RepositoryViewSet, basename="registry-repository")
    router.register("registries", views.ExternalRegistryViewSet, basename="external-registry")
