"""The role matrix: which tenant-level permissions each membership role grants.

This is the single definition used to derive django-guardian object permissions
on the Tenant (see services.sync_member_permissions). docs/permissions.md is the
human-readable version of this table; a test keeps the two in step.
"""
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    DEVELOPER = "developer", _("Developer")
    APPROVER = "approver", _("Approver")
    VIEWER = "viewer", _("Viewer")
    AUDITOR = "auditor", _("Auditor")


# Codename -> what it allows. All are permissions on the Tenant model, granted
# per tenant object through guardian; several also exist on individual objects
# (e.g. an Application) so one person can be granted them on that object only.
TENANT_PERMISSIONS = {
    "view_tenant": _("See the tenant, its environments, members, quotas and quota requests"),
    "change_tenant": _("Rename the tenant and edit its description"),
    "manage_members": _("Invite and remove members and change their roles (not owners)"),
    "manage_owners": _("Grant and revoke the owner role"),
    "manage_environments": _("Create and edit environments"),
    "request_quota": _("Ask platform operators for other quotas per environment; cancel pending requests"),
    "use_api_tokens": _("Create and revoke one's own API tokens"),
    "manage_api_tokens": _("See and revoke every member's API tokens"),
    "view_audit": _("Browse and export the tenant's audit trail"),
    "manage_applications": _("Create and change applications and their components"),
    "release_application": _("Start, pause, resume and roll back releases"),
    "approve_release": _("Approve releases into protected environments"),
    "release_protected": _("Release into pre-production and production (with release_application)"),
}

# Permissions that a read-only API token keeps (everything else needs read-write).
READ_ONLY_PERMISSIONS = frozenset({"view_tenant", "view_audit"})

_ALL = frozenset(TENANT_PERMISSIONS)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: _ALL,
    Role.ADMIN: _ALL - {"manage_owners"},
    Role.DEVELOPER: frozenset(
        {"view_tenant", "use_api_tokens", "manage_applications", "release_application"}
    ),
    Role.APPROVER: frozenset({"view_tenant", "use_api_tokens", "approve_release"}),
    Role.VIEWER: frozenset({"view_tenant", "use_api_tokens"}),
    Role.AUDITOR: frozenset({"view_tenant", "use_api_tokens", "view_audit"}),
}
