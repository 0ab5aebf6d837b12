"""Which sidebar entries the signed-in person may open, and where they lead.

Each flag calls the permission function the target view itself checks (never a
copy of the role table), so an entry is shown exactly when its page would open:
- Audit trail: paas.audit.views -> access.ensure_may_audit -> may_audit;
- Quota requests: tenants.views.quota_requests -> can_platform(SET_QUOTA);
- Federated types: clusters.federation.views_ops -> can_platform(view_federatedtype).
Every other entry opens for any signed-in person (the pages scope their rows).
tests/test_menu.py opens every link of every persona's menu to keep it so.
"""
from dataclasses import dataclass

from django.urls import reverse

from paas.actors import Actor
from paas.audit.access import may_audit
from paas.permissions import can_platform
from tenants.services import SET_QUOTA

FEDERATED_TYPES_VIEW = "federation.view_federatedtype"


@dataclass(frozen=True)
class Menu:
    audit: bool
    quota_requests: bool
    federated_types: bool
    federation_url: str


def federation_url(current_tenant) -> str:
    """The tenant in the switcher, so "Federation" never lands on another tenant last visited."""
    if current_tenant is not None:
        return reverse("federation:tenant", args=[current_tenant.slug])
    return reverse("federation:index")


def menu_for(actor: Actor, current_tenant=None) -> Menu:
    return Menu(
        audit=may_audit(actor),
        quota_requests=can_platform(actor, SET_QUOTA),
        federated_types=can_platform(actor, FEDERATED_TYPES_VIEW),
        federation_url=federation_url(current_tenant),
    )
