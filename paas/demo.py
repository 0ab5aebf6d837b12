"""Demo data for `make run`: two tenants and one account per role.

Idempotent: running it again finds what exists and creates nothing twice
(services are idempotent; accounts are looked up by username).
"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

from paas.actors import Actor
from tenants import quota_requests, services
from tenants.models import Membership, QuotaRequest, Tenant
from tenants.roles import Role

DEMO_PASSWORD = "paas-demo-2026"

# (username, password, what they can do) — printed by `make run`.
DEMO_ACCOUNTS = [
    ("operator", DEMO_PASSWORD, "platform operator: creates tenants, sees all audit, Django admin"),
    ("owner", DEMO_PASSWORD, "owner of Acme Payments"),
    ("admin", DEMO_PASSWORD, "admin of Acme Payments"),
    ("developer", DEMO_PASSWORD, "developer in Acme Payments"),
    ("approver", DEMO_PASSWORD, "approver in Acme Payments"),
    ("viewer", DEMO_PASSWORD, "viewer of Acme Payments"),
    ("auditor", DEMO_PASSWORD, "auditor of Acme Payments"),
    ("globex", DEMO_PASSWORD, "owner of Globex Bank (another tenant: sees nothing of Acme)"),
]

OPERATOR_GROUP = "Platform operators"
OPERATOR_PERMISSIONS = ["add_tenant", "view_tenant", "view_audit", "view_environment", "view_membership",
                        "view_quota", "change_quota", "set_quota", "view_quotarequest", "view_apitoken"]

OPERATOR_CLUSTER_PERMISSIONS = [
    "view_region", "add_region", "change_region", "delete_region",
    "view_zone", "add_zone", "change_zone", "delete_zone", "mark_zone_failed",
    "view_cell", "add_cell", "change_cell", "delete_cell", "mark_cell_failed",
    "view_cluster", "add_cluster", "change_cluster", "delete_cluster", "cordon_cluster", "pause_propagation",
    "view_environmentbinding", "add_environmentbinding", "delete_environmentbinding",
    "view_platformswitch", "change_platformswitch", "stop_all_propagation",
]

# The built-in registry's platform/ namespace (base images) and platform-wide external registries;
# the registry's own records are read-only in the admin.
OPERATOR_REGISTRY_PERMISSIONS = ["push_platform_image", "view_repository", "view_manifest", "view_tag", "view_blob",
                                 "view_upload", "view_externalregistry", "add_externalregistry",
                                 "change_externalregistry", "delete_externalregistry"]

OPERATOR_FEDERATION_PERMISSIONS = ["view_federatedtype", "add_federatedtype", "change_federatedtype",
                                   "view_federatedresource", "view_propagation", "view_membernamespace"]

DEMO_TENANTS = [
    ("acme", "Acme Payments", "Card acquiring and settlement services.",
     [("owner", Role.OWNER), ("admin", Role.ADMIN), ("developer", Role.DEVELOPER),
      ("approver", Role.APPROVER), ("viewer", Role.VIEWER), ("auditor", Role.AUDITOR)]),
    ("globex", "Globex Bank", "Retail banking core and mobile channels.", [("globex", Role.OWNER)]),
]


def _operator_group() -> Group:
    group, _ = Group.objects.get_or_create(name=OPERATOR_GROUP)
    group.permissions.set(Permission.objects.filter(
        Q(content_type__app_label="tenants", codename__in=OPERATOR_PERMISSIONS)
        | Q(content_type__app_label="clusters", codename__in=OPERATOR_CLUSTER_PERMISSIONS)
        | Q(content_type__app_label="federation", codename__in=OPERATOR_FEDERATION_PERMISSIONS)
        | Q(content_type__app_label="registry", codename__in=OPERATOR_REGISTRY_PERMISSIONS)))
    return group


def _account(username: str, *, staff: bool = False):
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username, defaults={"email": f"{username}@demo.example", "is_staff": staff,
                                     "first_name": username.title()})
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    return user


@transaction.atomic
def load_demo(stdout=None) -> None:
    actor = Actor.for_system("demo.loader")
    operator = _account("operator", staff=True)
    operator.groups.add(_operator_group())
    for slug, name, description, members in DEMO_TENANTS:
        tenant = Tenant.objects.filter(slug=slug).first() or services.tenant_create(
            actor=actor, name=name, slug=slug, description=description)
        for username, role in members:
            user = _account(username)
            membership = Membership.objects.filter(tenant=tenant, user=user).first()
            if membership is None:
                services.member_add(actor=actor, tenant=tenant, user=user, role=role)
            elif membership.role != role:
                services.member_change_role(actor=actor, membership=membership, role=role)
        if stdout:
            stdout.write(f"tenant {slug}: {tenant.environments.count()} environments, "
                         f"{tenant.memberships.count()} members")
    _demo_quota_request()


def _demo_quota_request() -> None:
    """One pending request for the operator's queue (only if Acme never asked: a decided one stays decided)."""
    acme = Tenant.objects.get(slug="acme")
    if QuotaRequest.objects.filter(tenant=acme).exists():
        return
    owner = get_user_model().objects.get(username="owner")
    quota_requests.quota_request_create(
        actor=Actor.for_user(owner), environment=acme.environments.get(slug="pre"), cpu_millicores=8000,
        memory_mib=16384, reason="Load test of the new settlement batch before the year-end peak.")
