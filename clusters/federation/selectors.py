"""Reads scoped to what the asking actor may see.

Federated resources belong to their environment's tenant: visible to whoever
sees the tenant (tenants.selectors), absent (404) for anyone else. Federated
types are platform vocabulary: every signed-in user may read the enabled ones.
"""
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from paas.actors import Actor
from paas.permissions import can_platform
from tenants.selectors import environments_visible_to, tenants_visible_to

from .models import FederatedResource, FederatedType, Propagation


def resources_visible_to(actor: Actor) -> QuerySet[FederatedResource]:
    return (FederatedResource.objects.filter(tenant__in=tenants_visible_to(actor))
            .select_related("ftype", "environment", "tenant"))


def resource_get(actor: Actor, pk, *, tenant=None, environment=None) -> FederatedResource:
    queryset = resources_visible_to(actor)
    if tenant is not None:
        queryset = queryset.filter(tenant=tenant)
    if environment is not None:
        queryset = queryset.filter(environment=environment)
    try:
        return queryset.get(pk=pk)
    except (FederatedResource.DoesNotExist, ValueError, TypeError):
        raise Http404("No such federated resource.") from None


def propagations_of(resource: FederatedResource) -> QuerySet[Propagation]:
    return resource.propagations.select_related("cluster__cell__zone").order_by("cluster__slug")


def environments_with_counts(actor: Actor, tenant):
    """The tenant's environments, each with its number of federated resources and how many
    of them are failed / degraded (health.py)."""
    live = Q(federated_resources__deleting=False)
    return (environments_visible_to(actor).filter(tenant=tenant)
            .annotate(federated=Count("federated_resources", filter=live),
                      failed=Count("federated_resources",
                                   filter=live & Q(federated_resources__status__health__state="failed")),
                      degraded=Count("federated_resources",
                                     filter=live & Q(federated_resources__status__health__state="degraded"))))


def types_visible_to(actor: Actor) -> QuerySet[FederatedType]:
    """Enabled types for everyone signed in; operators also see disabled ones."""
    if actor.is_system or can_platform(actor, "federation.view_federatedtype"):
        return FederatedType.objects.all()
    if actor.user is None:
        return FederatedType.objects.none()
    return FederatedType.objects.filter(enabled=True)


def type_get(actor: Actor, pk) -> FederatedType:
    try:
        return types_visible_to(actor).get(pk=pk)
    except (FederatedType.DoesNotExist, ValueError, TypeError):
        raise Http404("No such federated type.") from None


def type_by_api_version(actor: Actor, api_version: str, kind: str) -> FederatedType | None:
    """The visible type for an apiVersion ("apps/v1", "v1") and kind, or None."""
    group, _sep, version = (api_version or "").rpartition("/")
    return types_visible_to(actor).filter(group=group, version=version, kind=kind).first()
