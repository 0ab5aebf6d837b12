"""Tenants, their environments, members, quotas and API tokens."""
import hashlib
import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .roles import Role

slug_validator = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$",
    _("Use 1-40 lowercase letters, digits and hyphens; start and end with a letter or digit."),
)


class Tenant(models.Model):
    """An organisation that owns applications; the unit of isolation and permission."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.CharField(_("slug"), max_length=40, unique=True, validators=[slug_validator])
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        permissions = [
            ("manage_members", "Invite and remove members and change their roles"),
            ("manage_owners", "Grant and revoke the owner role"),
            ("manage_environments", "Create and edit environments"),
            ("request_quota", "Ask platform operators for other quotas per environment"),
            ("use_api_tokens", "Create and revoke one's own API tokens"),
            ("manage_api_tokens", "See and revoke every member's API tokens"),
            ("view_audit", "Browse and export the tenant's audit trail"),
            ("manage_applications", "Create and change applications"),
            ("release_application", "Start, pause, resume and roll back releases"),
            ("approve_release", "Approve releases into protected environments"),
            ("release_protected", "Release into pre-production and production"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("tenants:detail", kwargs={"slug": self.slug})

    def audit_fields(self) -> dict:
        return {"name": self.name, "slug": self.slug, "description": self.description, "is_active": self.is_active}


class Environment(models.Model):
    class Kind(models.TextChoices):
        DEV = "dev", _("Development")
        TEST = "test", _("Test")
        PRE = "pre", _("Pre-production")
        PROD = "prod", _("Production")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(_("name"), max_length=100)
    slug = models.CharField(_("slug"), max_length=40, validators=[slug_validator])
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    description = models.TextField(_("description"), blank=True)
    # Production is always protected; others may opt in. Protected environments
    # cannot be deleted and (from the releases module on) need approval to change.
    protected = models.BooleanField(_("protected"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["tenant__name", "slug"]
        verbose_name = _("environment")
        verbose_name_plural = _("environments")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="environment_unique_slug_per_tenant"),
            models.CheckConstraint(
                condition=~models.Q(kind="prod") | models.Q(protected=True), name="environment_prod_is_protected"
            ),
        ]
        # Object-level grants: e.g. a viewer of the tenant may release into this one environment.
        permissions = [
            ("release_application", "Release applications into this environment"),
            ("approve_release", "Approve releases into this environment"),
            ("release_protected", "Release into this pre-production or production environment"),
        ]

    def __str__(self):
        return f"{self.tenant.slug}/{self.slug}"

    def save(self, *args, **kwargs):
        if self.kind == self.Kind.PROD:
            self.protected = True
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("tenants:environment-edit", kwargs={"slug": self.tenant.slug, "env": self.slug})

    def audit_fields(self) -> dict:
        return {
            "name": self.name, "slug": self.slug, "kind": self.kind,
            "description": self.description, "protected": self.protected,
        }


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["tenant__name", "user__username"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique_user_tenant")]

    def __str__(self):
        return f"{self.user.get_username()} @ {self.tenant.slug} ({self.role})"

    def audit_fields(self) -> dict:
        return {"user": self.user.get_username(), "role": self.role}


class Quota(models.Model):
    """Resource limits of one tenant environment. Enforced by releases (later) and
    turned into a Kubernetes ResourceQuota in each member cluster namespace."""

    MAX_CPU_MILLICORES = 10_000_000
    MAX_MEMORY_MIB = 100 * 1024 * 1024
    MAX_DISK_MIB = 1024 * 1024 * 1024
    MAX_PODS = 1_000_000
    LIMITS = ("cpu_millicores", "memory_mib", "ephemeral_storage_mib", "exclusive_cpuset_cores", "pods")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="quotas")
    environment = models.OneToOneField(Environment, on_delete=models.CASCADE, related_name="quota")
    cpu_millicores = models.PositiveIntegerField(
        _("CPU (millicores)"), default=4000, validators=[MaxValueValidator(MAX_CPU_MILLICORES)]
    )
    memory_mib = models.PositiveBigIntegerField(
        _("memory (MiB)"), default=8192, validators=[MaxValueValidator(MAX_MEMORY_MIB)]
    )
    ephemeral_storage_mib = models.PositiveBigIntegerField(
        _("ephemeral disk (MiB)"), default=20480, validators=[MaxValueValidator(MAX_DISK_MIB)]
    )
    exclusive_cpuset_cores = models.PositiveIntegerField(
        _("exclusive cpuset cores"), default=0, validators=[MaxValueValidator(MAX_CPU_MILLICORES // 1000)]
    )
    pods = models.PositiveIntegerField(_("pods"), default=50, validators=[MaxValueValidator(MAX_PODS)])
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["tenant__name", "environment__slug"]
        verbose_name = _("quota")
        verbose_name_plural = _("quotas")
        # Quotas are the platform's ceiling on a tenant: only operators (a global grant) set them.
        permissions = [("set_quota", "Set any tenant environment's quota and decide quota requests")]

    def __str__(self):
        return f"quota {self.environment}"

    def audit_fields(self) -> dict:
        return {
            "cpu_millicores": self.cpu_millicores,
            "memory_mib": self.memory_mib,
            "ephemeral_storage_mib": self.ephemeral_storage_mib,
            "exclusive_cpuset_cores": self.exclusive_cpuset_cores,
            "pods": self.pods,
        }


class QuotaRequest(models.Model):
    """A tenant's request for other limits on one environment, decided by a platform operator.

    It holds the complete set of limits asked for and the quota as it was when asked:
    the difference is what the tenant wants changed, and only that is applied when an
    operator approves (other limits keep whatever value they have by then).
    """

    class State(models.TextChoices):
        # Context: "Pending" is also a federation propagation state, worded differently in Chinese.
        PENDING = "pending", pgettext_lazy("quota request state", "Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")

    MAX_REASON = 2000

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="quota_requests")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="quota_requests")
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    reason = models.TextField(_("reason"), max_length=MAX_REASON)
    cpu_millicores = models.PositiveIntegerField(
        _("CPU (millicores)"), validators=[MaxValueValidator(Quota.MAX_CPU_MILLICORES)])
    memory_mib = models.PositiveBigIntegerField(
        _("memory (MiB)"), validators=[MaxValueValidator(Quota.MAX_MEMORY_MIB)])
    ephemeral_storage_mib = models.PositiveBigIntegerField(
        _("ephemeral disk (MiB)"), validators=[MaxValueValidator(Quota.MAX_DISK_MIB)])
    exclusive_cpuset_cores = models.PositiveIntegerField(
        _("exclusive cpuset cores"), validators=[MaxValueValidator(Quota.MAX_CPU_MILLICORES // 1000)])
    pods = models.PositiveIntegerField(_("pods"), validators=[MaxValueValidator(Quota.MAX_PODS)])
    # The quota when the request was made (Quota.audit_fields()).
    previous = models.JSONField(_("quota when requested"), default=dict)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                     related_name="+", verbose_name=_("requested by"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    comment = models.TextField(_("decision comment"), blank=True, max_length=MAX_REASON)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("quota request")
        verbose_name_plural = _("quota requests")
        constraints = [
            # One open question per environment: a second one must wait, or the first be cancelled.
            models.UniqueConstraint(fields=["environment"], condition=models.Q(state="pending"),
                                    name="quotarequest_one_pending_per_environment"),
        ]

    def __str__(self):
        return f"quota request #{self.pk} {self.environment}"

    @property
    def is_pending(self) -> bool:
        return self.state == self.State.PENDING

    def requested_values(self) -> dict:
        return {name: getattr(self, name) for name in Quota.LIMITS}

    def changes(self) -> list[tuple[str, int | None, int]]:
        """[(field, value when requested, value asked)] for the fields that differ."""
        asked = self.requested_values()
        return [(name, self.previous.get(name), value) for name, value in asked.items()
                if self.previous.get(name) != value]

    def audit_fields(self) -> dict:
        return {
            "environment": self.environment.slug, "state": self.state, "reason": self.reason,
            "requested": self.requested_values(), "previous": self.previous, "comment": self.comment,
        }


class ApiToken(models.Model):
    """A bearer token for automation, bound to one user and one tenant.

    Only a SHA-256 of the secret is stored; the full token is shown once, at
    creation. The prefix (public) lets us find the row without a table scan and
    lets people recognise a token in lists and audit records.
    """

    class Scope(models.TextChoices):
        READ = "read", _("Read-only")
        WRITE = "write", _("Read-write")

    PREFIX_LEN = 10
    TOKEN_MARK = "paas"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scope = models.CharField(_("scope"), max_length=8, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode("utf-8")).hexdigest()

    @classmethod
    def generate(cls) -> tuple[str, str, str]:
        """Return (full token, prefix, hash). Format: paas_<prefix>_<secret>."""
        prefix = secrets.token_hex(cls.PREFIX_LEN // 2)
        secret = secrets.token_urlsafe(32)
        return f"{cls.TOKEN_MARK}_{prefix}_{secret}", prefix, cls.hash_secret(secret)

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    @property
    def is_usable(self) -> bool:
        return self.status == "active"

    def audit_fields(self) -> dict:
        return {
            "name": self.name, "prefix": self.prefix, "scope": self.scope, "user": self.user.get_username(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }
