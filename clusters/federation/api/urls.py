"""API routes of this app, added to the project's /api/v1/ router by paas/api/urls.py."""
from paas.api.base import TENANT_PREFIX

from .drill import FederatedWorkloadViewSet
from .views import FederatedResourceViewSet, FederatedTypeViewSet


def register(router) -> None:
    """Register this app's viewsets on the shared DRF router."""
    router.register("federated-types", FederatedTypeViewSet, basename="federated-type")
    router.register(rf"{TENANT_PREFIX}/federated-resources", FederatedResourceViewSet,
                    basename="federated-resource")
    # Drill-down actions (pods, events, logs) on the same resources: only detail routes.
    router.register(rf"{TENANT_PREFIX}/federated-resources", FederatedWorkloadViewSet,
                    basename="federated-workload")
