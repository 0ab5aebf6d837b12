"""API routes of this app, added to the project's /api/v1/ router by paas/api/urls.py."""
from paas.api.base import TENANT_PREFIX

from .views import FederatedResourceViewSet, FederatedTypeViewSet


def register(router) -> None:
    """Register this app's viewsets on the shared DRF router."""
    router.register("federated-types", FederatedTypeViewSet, basename="federated-type")
    router.register(rf"{TENANT_PREFIX}/federated-resources", FederatedResourceViewSet,
                    basename="federated-resource")
