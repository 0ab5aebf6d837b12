"""Every write to tenants, environments, members, quotas and tokens.

Each service takes an explicit `actor`, checks permission first (a denial is
recorded in the audit trail and not rolled back with the change), then changes
state and records its audit event in one transaction, and pushes a live event
after commit. Services are idempotent: asking for the state that already holds
changes nothing and records nothing.
"""
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, get_user_perms, remove_perm

from paas.actors import Actor
from paas.audit.services import audit_record, diff
from paas.errors import Conflict, DomainError
from paas.permissions import NotPermitted, authorize, authorize_platform, can, can_create_tenant
from paas.realtime import emit

from .models import ApiToken, Environment, Membership, Quota, Tenant
from .roles import ROLE_PERMISSIONS, TENANT_PERMISSIONS, Role

DEFAULT_ENVIRONMENTS = [
    ("Development", "dev", Environment.Kind.DEV),
    ("Test", "test", Environment.Kind.TEST),
    ("Pre-production", "pre", Environment.Kind.PRE),
    ("Production", "prod", Environment.Kind.PROD),
]


def _validate(instance, exclude=None):
    """Run model validation and turn it into a DomainError naming the field."""
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(messages[0], field=None if field == "__all__" else field) from exc


def _notify(actor: Actor, tenant: Tenant, kind: str, payload: dict):
    emit.to_tenant(tenant.pk, {"type": kind, "tenant": tenant.slug, "actor": emit.actor_name(actor), **payload})


# --- tenants ----------------------------------------------------------------

# Slugs that name something of the platform's own: `platform/` holds the base images in the
# built-in registry, whose repositories are otherwise `<tenant slug>/<name>`.
RESERVED_SLUGS = frozenset({"platform"})


def tenant_create(
    *, actor: Actor, name: str, slug: str, description: str = "", owner=None, default_environments: bool = True
) -> Tenant:
    if not can_create_tenant(actor):
        audit_record(actor=actor, action="tenant.create", target=("tenants.tenant", "", slug),
                     outcome="denied", reason="missing permission tenants.add_tenant")
        raise NotPermitted(_("Only platform operators can create tenants."))
    tenant = Tenant(name=name.strip(), slug=slug.strip().lower(), description=description)
    _validate(tenant)
    if tenant.slug in RESERVED_SLUGS:
        raise DomainError(_("'%(slug)s' is reserved by the platform (it names the base images' registry "
                            "namespace); choose another slug.") % {"slug": tenant.slug}, field="slug")
    owner = owner or actor.user
    with transaction.atomic():
        if Tenant.objects.filter(slug=tenant.slug).exists():
            raise Conflict(_("A tenant with the slug '%(slug)s' already exists.") % {"slug": tenant.slug}, field="slug")
        tenant.save()
        audit_record(actor=actor, action="tenant.create", target=tenant, after=tenant.audit_fields())
        if owner is not None:
            _member_upsert(actor, tenant, owner, Role.OWNER)
        if default_environments:
            for env_name, env_slug, kind in DEFAULT_ENVIRONMENTS:
                _environment_insert(actor, tenant, name=env_name, slug=env_slug, kind=kind)
    return tenant


def tenant_update(*, actor: Actor, tenant: Tenant, **fields) -> Tenant:
    authorize(actor, "change_tenant", tenant, action="tenant.update")
    allowed = {"name", "description", "is_active"}
    unknown = set(fields) - allowed
    if unknown:
        raise DomainError(_("These fields cannot be changed: %(fields)s.") % {"fields": ", ".join(sorted(unknown))})
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        before = tenant.audit_fields()
        for key, value in fields.items():
            setattr(tenant, key, value.strip() if isinstance(value, str) and key == "name" else value)
        _validate(tenant)
        old, new = diff(before, tenant.audit_fields())
        if not new:
            return tenant
        tenant.save()
        action = "tenant.update"
        if set(new) == {"is_active"}:
            action = "tenant.reactivate" if tenant.is_active else "tenant.archive"
        audit_record(actor=actor, action=action, target=tenant, before=old, after=new)
        _notify(actor, tenant, "tenant.updated", {"changes": new})
    return tenant


# --- environments -----------------------------------------------------------

def _environment_insert(actor, tenant, *, name, slug, kind, description="", protected=False) -> Environment:
    env = Environment(tenant=tenant, name=name.strip(), slug=slug.strip().lower(), kind=kind,
                      description=description, protected=protected or kind == Environment.Kind.PROD)
    _validate(env)
    if Environment.objects.filter(tenant=tenant, slug=env.slug).exists():
        raise Conflict(_("This tenant already has an environment '%(slug)s'.") % {"slug": env.slug}, field="slug")
    env.save()
    audit_record(actor=actor, action="tenant.environment.create", target=env, after=env.audit_fields())
    quota = Quota.objects.create(tenant=tenant, environment=env)
    audit_record(actor=actor, action="tenant.quota.create", target=quota, after=quota.audit_fields())
    return env


def environment_create(*, actor: Actor, tenant: Tenant, name: str, slug: str, kind: str,
                       description: str = "", protected: bool = False) -> Environment:
    authorize(actor, "manage_environments", tenant, action="tenant.environment.create")
    with transaction.atomic():
        env = _environment_insert(actor, tenant, name=name, slug=slug, kind=kind,
                                  description=description, protected=protected)
        _notify(actor, tenant, "environment.created", {"environment": env.slug})
    return env


def environment_update(*, actor: Actor, environment: Environment, **fields) -> Environment:
    authorize(actor, "manage_environments", environment, action="tenant.environment.update")
    allowed = {"name", "description", "protected"}
    if set(fields) - allowed:
        raise DomainError(_("Only the name, description and protection of an environment can change; "
                            "create a new environment for another kind."))
    with transaction.atomic():
        env = Environment.objects.select_for_update().get(pk=environment.pk)
        if env.kind == Environment.Kind.PROD and fields.get("protected") is False:
            raise Conflict(_("Production environments are always protected."), field="protected")
        before = env.audit_fields()
        for key, value in fields.items():
            setattr(env, key, value)
        _validate(env)
        old, new = diff(before, env.audit_fields())
        if not new:
            return env
        env.save()
        audit_record(actor=actor, action="tenant.environment.update", target=env, before=old, after=new)
        _notify(actor, env.tenant, "environment.updated", {"environment": env.slug, "changes": new})
    return env


def environment_delete(*, actor: Actor, environment: Environment) -> None:
    authorize(actor, "manage_environments", environment, action="tenant.environment.delete")
    if environment.federated_resources.exists():
        # Deleting the rows would orphan the objects running in member clusters.
        raise Conflict(_("'%(environment)s' still has federated resources; delete them first so they are "
                         "removed from the clusters.") % {"environment": environment})
    if environment.protected:
        raise Conflict(_("'%(environment)s' is protected and cannot be deleted.") % {"environment": environment})
    with transaction.atomic():
        quota = Quota.objects.filter(environment=environment).first()
        audit_record(actor=actor, action="tenant.environment.delete", target=environment,
                     before={**environment.audit_fields(), "quota": quota.audit_fields() if quota else None})
        tenant = environment.tenant
        slug = environment.slug
        environment.delete()
        _notify(actor, tenant, "environment.deleted", {"environment": slug})


# --- members ----------------------------------------------------------------

def sync_member_permissions(user, tenant: Tenant, role: str | None) -> None:
    """Make the user's guardian permissions on the tenant exactly those of the role."""
    wanted = set(ROLE_PERMISSIONS[role]) if role else set()
    current = {p for p in get_user_perms(user, tenant) if p in TENANT_PERMISSIONS}
    for codename in current - wanted:
        remove_perm(f"tenants.{codename}", user, tenant)
    for codename in wanted - current:
        assign_perm(f"tenants.{codename}", user, tenant)


def _member_upsert(actor, tenant, user, role) -> Membership:
    membership, created = Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
    if created:
        audit_record(actor=actor, action="tenant.member.add", target=membership, after=membership.audit_fields())
    elif membership.role != role:
        before = membership.audit_fields()
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
        audit_record(actor=actor, action="tenant.member.change_role", target=membership,
                     before=before, after=membership.audit_fields())
    sync_member_permissions(user, tenant, role)
    return membership


def _authorize_role_change(actor, tenant, action, *roles):
    authorize(actor, "manage_members", tenant, action=action)
    if Role.OWNER in roles:
        authorize(actor, "manage_owners", tenant, action=action)


def _other_owners_exist(tenant, user) -> bool:
    return Membership.objects.filter(tenant=tenant, role=Role.OWNER).exclude(user=user).exists()


def resolve_user(identifier: str):
    """Find an existing account by username or e-mail for an invitation."""
    User = get_user_model()
    identifier = (identifier or "").strip()
    user = User.objects.filter(username__iexact=identifier, is_active=True).first() or (
        User.objects.filter(email__iexact=identifier, is_active=True).first() if "@" in identifier else None
    )
    if user is None:
        raise DomainError(_("No active account '%(account)s'. Ask a platform operator to create it first.")
                          % {"account": identifier}, field="user")
    return user


def member_add(*, actor: Actor, tenant: Tenant, user, role: str) -> Membership:
    if role not in Role.values:
        raise DomainError(_("Unknown role '%(role)s'.") % {"role": role}, field="role")
    _authorize_role_change(actor, tenant, "tenant.member.add", role)
    with transaction.atomic():
        if Membership.objects.filter(tenant=tenant, user=user).exists():
            raise Conflict(_("%(user)s is already a member of %(tenant)s.") % {"user": user.get_username(), "tenant": tenant},
                           field="user")
        membership = _member_upsert(actor, tenant, user, role)
        _notify(actor, tenant, "member.added", {"user": user.get_username(), "role": role})
    return membership


def member_invite(*, actor: Actor, tenant: Tenant, identifier: str, role: str) -> Membership | None:
    """Add an account named by username or e-mail, answering the same whether it exists or not.

    Pages and API show one neutral message for both outcomes, so the member form cannot be
    used to probe which accounts exist on the platform. Permission and role are checked
    first, identically for both; None when no active account matches (nothing changes).
    """
    if role not in Role.values:
        raise DomainError(_("Unknown role '%(role)s'.") % {"role": role}, field="role")
    _authorize_role_change(actor, tenant, "tenant.member.add", role)
    try:
        user = resolve_user(identifier)
    except DomainError:
        return None
    return member_add(actor=actor, tenant=tenant, user=user, role=role)


def member_invite_message(identifier: str, role: str) -> str:
    return _("If an active account '%(account)s' exists, it now has the role %(role)s in this tenant; "
             "the member list shows it.") % {"account": identifier, "role": Role(role).label}


def member_change_role(*, actor: Actor, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise DomainError(_("Unknown role '%(role)s'.") % {"role": role}, field="role")
    tenant = membership.tenant
    _authorize_role_change(actor, tenant, "tenant.member.change_role", role, membership.role)
    if membership.role == role:
        return membership
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == Role.OWNER and not _other_owners_exist(tenant, membership.user):
            raise Conflict(_("A tenant must keep at least one owner."), field="role")
        membership = _member_upsert(actor, tenant, membership.user, role)
        _notify(actor, tenant, "member.changed", {"user": membership.user.get_username(), "role": role})
    return membership


def member_remove(*, actor: Actor, membership: Membership) -> None:
    tenant = membership.tenant
    _authorize_role_change(actor, tenant, "tenant.member.remove", membership.role)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == Role.OWNER and not _other_owners_exist(tenant, membership.user):
            raise Conflict(_("The last owner cannot be removed; make someone else owner first."))
        audit_record(actor=actor, action="tenant.member.remove", target=membership,
                     before=membership.audit_fields())
        sync_member_permissions(membership.user, tenant, None)
        # A removed member's tokens for this tenant stop working with the membership.
        for token in ApiToken.objects.select_for_update().filter(
                user=membership.user, tenant=tenant, revoked_at__isnull=True):
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(actor=actor, action="tenant.token.revoke", target=token,
                         after={"revoked": True, "reason": "member removed"})
        username = membership.user.get_username()
        membership.delete()
        _notify(actor, tenant, "member.removed", {"user": username})


# --- quotas -----------------------------------------------------------------

QUOTA_FIELDS = Quota.LIMITS
# The platform permission (a global grant: operators, superusers) that sets quotas.
SET_QUOTA = "tenants.set_quota"


def quota_check_values(target, values: dict) -> None:
    """Apply `values` to `target` (a Quota or QuotaRequest) and check them: known fields,
    whole numbers within the model's bounds, exclusive cores covered by the CPU quota."""
    unknown = set(values) - set(QUOTA_FIELDS)
    if unknown:
        raise DomainError(_("Unknown quota fields: %(fields)s.") % {"fields": ", ".join(sorted(unknown))})
    for key, value in values.items():
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = -1
        if isinstance(value, bool) or number < 0 or (isinstance(value, float) and value != number):
            raise DomainError(_("Must be zero or a positive whole number."), field=key)
        setattr(target, key, number)
    _validate(target, exclude=[f.name for f in target._meta.fields if f.name not in QUOTA_FIELDS])
    if target.exclusive_cpuset_cores * 1000 > target.cpu_millicores:
        raise DomainError(
            _("Exclusive cpuset cores (%(cores)s) need at least %(millicores)s millicores of CPU quota.")
            % {"cores": target.exclusive_cpuset_cores, "millicores": target.exclusive_cpuset_cores * 1000},
            field="exclusive_cpuset_cores")


def quota_update(*, actor: Actor, quota: Quota, **values) -> Quota:
    """Set an environment's quota. Platform operators only: the quota is the platform's
    ceiling on the tenant, so its members ask for more (tenants.quota_requests)."""
    authorize_platform(actor, SET_QUOTA, quota, action="tenant.quota.update")
    with transaction.atomic():
        quota = Quota.objects.select_for_update().select_related("environment", "tenant").get(pk=quota.pk)
        before = quota.audit_fields()
        quota_check_values(quota, values)
        old, new = diff(before, quota.audit_fields())
        if not new:
            return quota
        quota.save()
        audit_record(actor=actor, action="tenant.quota.update", target=quota, before=old, after=new)
        _notify(actor, quota.tenant, "quota.updated", {"environment": quota.environment.slug, "changes": new})
    return quota


# --- API tokens -------------------------------------------------------------

def token_create(*, actor: Actor, tenant: Tenant, name: str, scope: str = ApiToken.Scope.READ,
                 expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token for the acting user; returns (token, plaintext shown once)."""
    if actor.token is not None:
        audit_record(actor=actor, action="tenant.token.create", target=tenant, outcome="denied",
                     reason="API tokens cannot create API tokens")
        raise NotPermitted(_("API tokens cannot create API tokens; sign in to the portal instead."))
    authorize(actor, "use_api_tokens", tenant, action="tenant.token.create")
    if scope not in ApiToken.Scope.values:
        raise DomainError(_("Unknown scope '%(scope)s'.") % {"scope": scope}, field="scope")
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError(_("The expiry must be in the future."), field="expires_at")
    if not (name or "").strip():
        raise DomainError(_("Give the token a name that says what uses it."), field="name")
    plaintext, prefix, key_hash = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(user=actor.user, tenant=tenant, name=name.strip()[:100], prefix=prefix,
                                        key_hash=key_hash, scope=scope, expires_at=expires_at)
        audit_record(actor=actor, action="tenant.token.create", target=token, after=token.audit_fields())
    return token, plaintext


def token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    own = actor.user is not None and token.user_id == actor.user.pk
    codename = "use_api_tokens" if own and can(actor, "use_api_tokens", token) else "manage_api_tokens"
    authorize(actor, codename, token, action="tenant.token.revoke")
    if token.revoked_at:
        return token
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="tenant.token.revoke", target=token, after={"revoked": True})
    return token


def token_mark_used(token: ApiToken) -> None:
    """Record last use, at most once a minute per token (not an audited change:
    it is usage metadata, and a write per request would be a needless hot spot)."""
    now = timezone.now()
    if token.last_used_at and (now - token.last_used_at).total_seconds() < 60:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def tokens_expire_sweep(*, actor: Actor) -> int:
    """Record an audit event for tokens that expired since the last sweep (beat job)."""
    now = timezone.now()
    expired = ApiToken.objects.filter(revoked_at__isnull=True, expires_at__lte=now).select_related("user", "tenant")
    count = 0
    for token in expired:
        with transaction.atomic():
            updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
            if updated:
                audit_record(actor=actor, action="tenant.token.expire", target=token, after={"revoked": True})
                # Token names are not for every member: token managers and the token's owner only.
                emit.to_tenant(token.tenant_id, {
                    "type": "token.expired", "tenant": token.tenant.slug, "token": token.prefix,
                    "name": token.name, "user": token.user.get_username(),
                }, permission="manage_api_tokens", users=[token.user_id])
                count += 1
    return count
