"""Where workloads can run: Region → Zone (IDC/AZ) → Cell (deployment unit) → Cluster.

A Cluster is one Kubernetes API endpoint. Its kubeconfig is stored encrypted
(clusters.crypto) and is never shown again after registration. Which tenant
environments may use which cells/clusters is recorded in EnvironmentBinding.
"""
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tenants.models import Environment, slug_validator


class Region(models.Model):
    name = models.CharField(_("name"), max_length=100)
    slug = models.CharField(_("slug"), max_length=40, unique=True, validators=[slug_validator])
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self):
        return self.name

    def audit_fields(self) -> dict:
        return {"name": self.name, "slug": self.slug, "labels": self.labels, "description": self.description}


class Zone(models.Model):
    """An availability zone / data centre (IDC)."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="zones")
    name = models.CharField(_("name"), max_length=100)
    slug = models.CharField(_("slug"), max_length=40, unique=True, validators=[slug_validator])
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    # Disaster-recovery drill: a failed zone's replicas are re-placed elsewhere.
    failed = models.BooleanField(_("marked failed"), default=False)

    class Meta:
        ordering = ["region__slug", "slug"]
        verbose_name = _("zone")
        verbose_name_plural = _("zones")
        permissions = [("mark_zone_failed", "Mark a zone failed or recovered (DR drill)")]

    def __str__(self):
        return self.name

    def audit_fields(self) -> dict:
        return {"name": self.name, "slug": self.slug, "region": self.region.slug, "labels": self.labels,
                "failed": self.failed}


class Cell(models.Model):
    """A deployment unit: the blast radius of a change, and a routing key for work."""

    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="cells")
    name = models.CharField(_("name"), max_length=100)
    slug = models.CharField(_("slug"), max_length=40, unique=True, validators=[slug_validator])
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    failed = models.BooleanField(_("marked failed"), default=False)

    class Meta:
        ordering = ["zone__region__slug", "zone__slug", "slug"]
        verbose_name = _("cell")
        verbose_name_plural = _("cells")
        permissions = [("mark_cell_failed", "Mark a cell failed or recovered (DR drill)")]

    def __str__(self):
        return self.name

    @property
    def queue(self) -> str:
        """Celery queue for this cell's cluster work (a slow cell never blocks another)."""
        return f"cell.{self.slug}"

    def audit_fields(self) -> dict:
        return {"name": self.name, "slug": self.slug, "zone": self.zone.slug, "labels": self.labels,
                "failed": self.failed}


class Cluster(models.Model):
    class Health(models.TextChoices):
        UNKNOWN = "unknown", _("Unknown")
        HEALTHY = "healthy", _("Healthy")
        UNREACHABLE = "unreachable", _("Unreachable")
        ERROR = "error", _("Error")

    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="clusters")
    name = models.CharField(_("name"), max_length=100)
    slug = models.CharField(_("slug"), max_length=40, unique=True, validators=[slug_validator])
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    server = models.CharField(_("API server"), max_length=300)
    # Fernet token of the kubeconfig (clusters.crypto). Never rendered anywhere.
    credentials = models.BinaryField(editable=False)
    weight = models.PositiveIntegerField(
        _("default weight"), default=1, validators=[MinValueValidator(0), MaxValueValidator(1000)])
    cordoned = models.BooleanField(_("cordoned"), default=False)
    # Per-cluster stop switch: no propagation to this cluster while set.
    propagation_paused = models.BooleanField(_("propagation paused"), default=False)
    health = models.CharField(_("health"), max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    kube_version = models.CharField(_("Kubernetes version"), max_length=40, blank=True)
    node_count = models.PositiveIntegerField(_("nodes"), null=True, blank=True)
    pod_count = models.PositiveIntegerField(_("pods"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    created_at = models.DateTimeField(_("registered"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["cell__zone__region__slug", "cell__zone__slug", "cell__slug", "slug"]
        verbose_name = _("cluster")
        verbose_name_plural = _("clusters")
        permissions = [
            ("cordon_cluster", "Cordon and uncordon a cluster"),
            ("pause_propagation", "Stop and resume propagation to a cluster"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("clusters:detail", kwargs={"slug": self.slug})

    @property
    def zone(self) -> Zone:
        return self.cell.zone

    @property
    def region(self) -> Region:
        return self.cell.zone.region

    @property
    def schedulable(self) -> bool:
        """May receive placements: not cordoned and not in a failed cell or zone."""
        return not (self.cordoned or self.cell.failed or self.cell.zone.failed)

    def topology_labels(self) -> dict:
        """Labels used by placement selectors: own labels plus where it stands."""
        return {
            **self.region.labels, **self.zone.labels, **self.cell.labels, **self.labels,
            "paas.io/region": self.region.slug, "paas.io/zone": self.zone.slug,
            "paas.io/cell": self.cell.slug, "paas.io/cluster": self.slug,
        }

    def audit_fields(self) -> dict:
        # Credentials deliberately absent: the audit trail must never hold them.
        return {"name": self.name, "slug": self.slug, "cell": self.cell.slug, "server": self.server,
                "labels": self.labels, "weight": self.weight, "cordoned": self.cordoned,
                "propagation_paused": self.propagation_paused}


class EnvironmentBinding(models.Model):
    """A tenant environment may place workloads on this cell (all its clusters) or one cluster."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="bindings")
    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, null=True, blank=True, related_name="bindings")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, null=True, blank=True,
                                related_name="bindings")
    created_at = models.DateTimeField(_("bound"), auto_now_add=True)

    class Meta:
        verbose_name = _("environment binding")
        verbose_name_plural = _("environment bindings")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(cell__isnull=False, cluster__isnull=True)
                           | models.Q(cell__isnull=True, cluster__isnull=False)),
                name="binding_cell_xor_cluster"),
            models.UniqueConstraint(fields=["environment", "cell"], name="binding_unique_cell"),
            models.UniqueConstraint(fields=["environment", "cluster"], name="binding_unique_cluster"),
        ]

    def __str__(self):
        return f"{self.environment} → {self.cell or self.cluster}"

    @property
    def tenant(self):
        return self.environment.tenant


class PlatformSwitch(models.Model):
    """Singleton row: the global "stop the bleeding" switch for all propagation."""

    propagation_paused = models.BooleanField(_("all propagation paused"), default=False)
    reason = models.TextField(_("reason"), blank=True)
    changed_by = models.CharField(_("changed by"), max_length=200, blank=True)
    changed_at = models.DateTimeField(_("changed"), null=True, blank=True)

    class Meta:
        verbose_name = _("platform switch")
        verbose_name_plural = _("platform switches")
        permissions = [("stop_all_propagation", "Stop and resume all propagation (global switch)")]

    def __str__(self):
        return "propagation paused" if self.propagation_paused else "propagation running"

    @classmethod
    def get(cls) -> "PlatformSwitch":
        switch, _ = cls.objects.get_or_create(pk=1)
        return switch


class BindingRequest(models.Model):
    """A tenant asks for its environment to be bound to a cell or a cluster; a platform
    operator approves it (the binding is created through services.environment_bind) or
    rejects it with a comment (clusters.binding_requests)."""

    class State(models.TextChoices):
        PENDING = "pending", pgettext_lazy("binding request state", "Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")

    MAX_REASON = 2000

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="binding_requests")
    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    reason = models.TextField(_("reason"), max_length=MAX_REASON)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                     related_name="+", verbose_name=_("requested by"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    comment = models.TextField(_("decision comment"), blank=True, max_length=MAX_REASON)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("binding request")
        verbose_name_plural = _("binding requests")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(cell__isnull=False, cluster__isnull=True)
                           | models.Q(cell__isnull=True, cluster__isnull=False)),
                name="bindingrequest_cell_xor_cluster"),
            # One pending request per environment and target (a second one is a 409, not a duplicate).
            models.UniqueConstraint(fields=["environment", "cell"], condition=models.Q(state="pending"),
                                    name="bindingrequest_one_pending_cell"),
            models.UniqueConstraint(fields=["environment", "cluster"], condition=models.Q(state="pending"),
                                    name="bindingrequest_one_pending_cluster"),
        ]

    def __str__(self):
        return f"{self.environment} → {self.cell or self.cluster} ({self.state})"

    @property
    def tenant(self):
        return self.environment.tenant

    @property
    def target(self):
        return self.cell or self.cluster

    @property
    def is_pending(self) -> bool:
        return self.state == self.State.PENDING

    def audit_fields(self) -> dict:
        return {"environment": str(self.environment), "cell": self.cell.slug if self.cell_id else None,
                "cluster": self.cluster.slug if self.cluster_id else None, "reason": self.reason,
                "state": self.state}
