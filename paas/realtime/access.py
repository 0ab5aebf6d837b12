"""What one user may receive on live streams: a snapshot taken at subscription time
and again whenever emit.access_changed() is pushed for the user, never per event.

The snapshot maps each stream the user may watch ("tenant.<id>") to the tenant
permission codenames the user holds there; an event restricted to a permission
reaches the connection only if that codename is in its stream's set (or the user
is named in the event). It applies the same rules as paas.permissions.can() for a
signed-in user (role grants through guardian, operator-wide grants, superusers,
archived tenants being read-only) in a handful of queries; tests compare the two.
"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from guardian.models import GroupObjectPermission, UserObjectPermission

from tenants.roles import READ_ONLY_PERMISSIONS, TENANT_PERMISSIONS

from .emit import tenant_stream
from .store import pooled

ALL = frozenset(TENANT_PERMISSIONS)
ARCHIVED = frozenset(READ_ONLY_PERMISSIONS | {"change_tenant"})  # see paas.permissions.can


def live_access(user_id: int) -> dict[str, frozenset[str]] | None:
    """{stream: codenames held} for an active user; None when the account is gone or inactive.
    The account is read again (not taken from the session lookup): the user's group is
    joined before this runs, so a deactivation is either seen here or pushed after."""
    from tenants.models import Tenant

    user = get_user_model().objects.filter(pk=user_id, is_active=True).only("pk", "is_superuser").first()
    if user is None:
        return None
    if user.is_superuser:
        return {tenant_stream(pk): ALL for pk in Tenant.objects.values_list("pk", flat=True)}
    ct = ContentType.objects.get_for_model(Tenant)  # cached by Django after the first call
    granted = set(Permission.objects.filter(Q(user=user) | Q(group__user=user), content_type=ct)
                  .values_list("codename", flat=True).distinct()) & ALL
    # Role grants (per user) and group grants on tenants, in one query.
    own = UserObjectPermission.objects.filter(user=user, content_type=ct).values_list(
        "object_pk", "permission__codename")
    groups = GroupObjectPermission.objects.filter(group__user=user, content_type=ct).values_list(
        "object_pk", "permission__codename")
    per_tenant: dict[int, set[str]] = {}
    for object_pk, codename in own.union(groups, all=True):
        per_tenant.setdefault(int(object_pk), set()).add(codename)
    tenants = Tenant.objects.values_list("pk", "is_active")
    if "view_tenant" not in granted:
        tenants = tenants.filter(pk__in=list(per_tenant))
    access = {}
    for pk, active in tenants:
        codes = (granted | per_tenant.get(pk, set())) & ALL
        if not active:
            codes &= ARCHIVED
        if "view_tenant" in codes:
            access[tenant_stream(pk)] = frozenset(codes)
    return access


def may_receive(access: dict[str, frozenset[str]], user_id: int, stream: str, permission: str,
                users) -> bool:
    codes = access.get(stream)
    if codes is None:
        return False
    return not permission or permission in codes or user_id in users


# Read-only: off the single thread_sensitive thread (see paas.realtime.store).
alive_access = pooled(live_access)
