"""Federated resources another part of the platform owns (an application instance's workload,
Service, ConfigMaps, Secrets): federation services refuse to change or delete them unless the
owner itself asks, so what a revision deployed is never edited behind its back.

Owners register a lookup (applications does, in its AppConfig.ready), so this package does not
import them:

    ownership.register(lambda resource: Owner(key=..., label=..., url=...) or None)

The owner passes its key as `managed_by=` to federated_resource_update / _delete.
"""
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from paas.errors import Conflict


@dataclass(frozen=True)
class Owner:
    key: str  # what the owner passes as managed_by
    label: str  # "application acme/payments-api (prod)"
    url: str = ""


_LOOKUPS: list[Callable] = []


def register(lookup: Callable) -> None:
    if lookup not in _LOOKUPS:
        _LOOKUPS.append(lookup)


def owner_of(resource) -> Owner | None:
    if resource is None or resource.pk is None:
        return None
    for lookup in _LOOKUPS:
        owner = lookup(resource)
        if owner is not None:
            return owner
    return None


def refuse_unless_owner(resource, managed_by: str | None) -> None:
    """Conflict when `resource` has an owner other than `managed_by`."""
    owner = owner_of(resource)
    if owner is not None and owner.key != managed_by:
        raise Conflict(_("This %(kind)s is managed by %(owner)s; change it there.")
                       % {"kind": resource.ftype.kind, "owner": owner.label}, code="managed")
