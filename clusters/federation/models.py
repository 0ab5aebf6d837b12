"""Federation: what to run where, and what each member cluster holds.

- FederatedType: a Kubernetes resource type that may be federated (built-ins are
  seeded by a data migration; CRDs are registered from a member cluster).
- FederatedResource: one object of such a type in a tenant environment: the
  template, where it goes (placement) and per-cluster differences (overrides).
- Propagation: the resource × one member cluster: what was planned, what was
  applied (by hash, so unchanged objects cost no API call), and what the cluster
  reports back.
- MemberNamespace: the tenant environment's namespace (+ ResourceQuota) in one
  cluster, applied by hash like the objects in it.
"""
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from clusters.models import Cluster
from tenants.models import Environment, Tenant


def protect_placed(collector, field, sub_objs, using):
    """on_delete for Propagation.cluster: a cluster still holding federated objects cannot
    be deleted (ProtectedError, which the registry reports as "cordon it first");
    rows whose objects are already removed go with it."""
    live = [row for row in sub_objs if row.state != "removed"]
    if live:
        raise models.ProtectedError(
            f"Cannot delete cluster: {len(live)} federated object(s) are still placed on it.", live)
    models.CASCADE(collector, field, sub_objs, using)


class FederatedType(models.Model):
    class Source(models.TextChoices):
        BUILTIN = "builtin", _("Built-in")
        CRD = "crd", _("Custom resource (CRD)")

    group = models.CharField(_("API group"), max_length=253, blank=True)  # "" = the core group
    version = models.CharField(_("version"), max_length=63)
    kind = models.CharField(_("kind"), max_length=63)
    plural = models.CharField(_("plural"), max_length=63)
    namespaced = models.BooleanField(_("namespaced"), default=True)
    # Dotted paths read back from member clusters, e.g. "status.readyReplicas".
    status_fields = models.JSONField(_("status fields"), default=list, blank=True)
    # Where the replica count lives ("spec.replicas"); empty for kinds without replicas.
    replicas_path = models.CharField(_("replicas path"), max_length=200, blank=True)
    # Dotted paths whose values are masked like Secret data everywhere they could be shown,
    # e.g. "spec.template.spec.containers[*].env[*].value" (see sensitive.py).
    sensitive_paths = models.JSONField(_("sensitive paths"), default=list, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices, default=Source.BUILTIN)
    enabled = models.BooleanField(_("enabled"), default=True)
    registered_from = models.CharField(_("registered from cluster"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("registered"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["source", "group", "kind"]
        verbose_name = _("federated type")
        verbose_name_plural = _("federated types")
        constraints = [
            models.UniqueConstraint(fields=["group", "kind"], name="federatedtype_unique_group_kind"),
            models.UniqueConstraint(fields=["group", "plural"], name="federatedtype_unique_group_plural"),
        ]

    def __str__(self):
        return f"{self.kind} ({self.api_version})"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def has_replicas(self) -> bool:
        return bool(self.replicas_path)

    def collection_path(self, namespace: str | None = None) -> str:
        """REST path of this type's collection (in a namespace, or across all)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace and self.namespaced:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None) -> str:
        return f"{self.collection_path(namespace)}/{name}"

    def audit_fields(self) -> dict:
        return {"group": self.group, "version": self.version, "kind": self.kind, "plural": self.plural,
                "namespaced": self.namespaced, "status_fields": self.status_fields,
                "replicas_path": self.replicas_path, "source": self.source, "enabled": self.enabled,
                "registered_from": self.registered_from, "sensitive_paths": self.sensitive_paths}


class FederatedResource(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="federated_resources")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="federated_resources")
    ftype = models.ForeignKey(FederatedType, on_delete=models.PROTECT, related_name="resources",
                              verbose_name=_("type"))
    name = models.CharField(_("name"), max_length=253)
    template = models.JSONField(_("template"), default=dict)
    placement = models.JSONField(_("placement"), default=dict, blank=True)
    overrides = models.JSONField(_("overrides"), default=list, blank=True)
    generation = models.PositiveIntegerField(_("generation"), default=1)
    # Aggregated from the per-cluster rows by the status collector.
    status = models.JSONField(_("status"), default=dict, blank=True)
    status_updated_at = models.DateTimeField(_("status updated"), null=True, blank=True)
    # Set by a delete: member objects are removed first, then the row goes.
    deleting = models.BooleanField(_("being deleted"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["environment__slug", "ftype__kind", "name"]
        verbose_name = _("federated resource")
        verbose_name_plural = _("federated resources")
        constraints = [
            models.UniqueConstraint(fields=["environment", "ftype", "name"], name="federatedresource_unique_name"),
        ]

    def __str__(self):
        return f"{self.ftype.kind}/{self.name}"

    def get_absolute_url(self):
        return reverse("federation:detail", kwargs={"slug": self.tenant.slug, "env": self.environment.slug,
                                                    "pk": self.pk})

    def audit_fields(self) -> dict:
        from .sensitive import shown

        template, overrides = shown(self)
        return {"environment": self.environment.slug, "type": self.ftype.api_version + "/" + self.ftype.kind,
                "name": self.name, "template": template, "placement": self.placement, "overrides": overrides,
                "generation": self.generation}


class Propagation(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPLIED = "applied", _("Applied")
        ERROR = "error", _("Error")
        REMOVING = "removing", _("Removing")
        REMOVED = "removed", _("Removed")

    resource = models.ForeignKey(FederatedResource, on_delete=models.CASCADE, related_name="propagations")
    cluster = models.ForeignKey(Cluster, on_delete=protect_placed, related_name="propagations")
    planned_replicas = models.PositiveIntegerField(_("planned replicas"), null=True, blank=True)
    # True while the cluster does not hold what is wanted (apply or delete to do).
    dirty = models.BooleanField(_("dirty"), default=True)
    desired_hash = models.CharField(_("desired hash"), max_length=64, blank=True)
    applied_hash = models.CharField(_("applied hash"), max_length=64, blank=True)
    applied_generation = models.PositiveIntegerField(_("applied generation"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # When the change now pending was saved (propagation latency is measured from here).
    changed_at = models.DateTimeField(_("changed"), null=True, blank=True)
    synced_at = models.DateTimeField(_("synced"), null=True, blank=True)
    status = models.JSONField(_("status"), default=dict, blank=True)
    observed_resource_version = models.CharField(_("observed resourceVersion"), max_length=64, blank=True)
    status_updated_at = models.DateTimeField(_("status updated"), null=True, blank=True)

    class Meta:
        ordering = ["cluster__slug"]
        verbose_name = _("propagation")
        verbose_name_plural = _("propagations")
        constraints = [
            models.UniqueConstraint(fields=["resource", "cluster"], name="propagation_unique_resource_cluster"),
        ]
        indexes = [
            models.Index(fields=["cluster", "dirty", "next_attempt_at"], name="propagation_due"),
            # The tick and every sync round ask "which clusters have dirty rows?": with 100,000 rows
            # nearly all clean, a partial index answers from the few dirty ones instead of a scan.
            models.Index(fields=["cluster"], condition=models.Q(dirty=True), name="propagation_dirty"),
        ]

    def __str__(self):
        return f"{self.resource} @ {self.cluster.slug}"

    @property
    def tenant(self):
        return self.resource.tenant


class MemberNamespace(models.Model):
    """The namespace of a tenant environment in one member cluster."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="member_namespaces")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="member_namespaces")
    name = models.CharField(_("namespace"), max_length=63)
    applied_hash = models.CharField(_("applied hash"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # Last time a sync compared it with the quota (a later quota change makes it due).
    synced_at = models.DateTimeField(_("synced"), null=True, blank=True)
    # The ResourceQuota's status as the cluster reports it ({"hard": {...}, "used": {...}}),
    # read by quota_usage.collect() with the status collection.
    quota_status = models.JSONField(_("quota status"), default=dict, blank=True)
    quota_observed_at = models.DateTimeField(_("quota observed"), null=True, blank=True)

    class Meta:
        ordering = ["cluster__slug", "name"]
        verbose_name = _("member namespace")
        verbose_name_plural = _("member namespaces")
        constraints = [
            models.UniqueConstraint(fields=["cluster", "environment"], name="membernamespace_unique"),
        ]

    def __str__(self):
        return f"{self.name} @ {self.cluster.slug}"


class StatusBacklog(models.Model):
    """A federated resource whose per-cluster rows changed and whose total status is
    to be recomputed (status.aggregate_pending). Insert-only from the cluster syncs,
    so a hundred clusters recording at once never contend on the resource's row, and
    the total is computed once per resource for all of them, outside their
    transactions. Rows are deleted once the status is recomputed; a row left by a
    killed worker is found by the next run (nothing is lost)."""

    resource_id = models.BigIntegerField(_("federated resource"), db_index=True)
    queued_at = models.DateTimeField(_("queued"), auto_now_add=True)

    class Meta:
        verbose_name = _("status backlog entry")
        verbose_name_plural = _("status backlog")

    def __str__(self):
        return f"status of resource {self.resource_id}"


class Handoff(models.Model):
    """A move of replicas between clusters done make-before-break (handoff.py): the clusters
    that gain replicas are applied at once; those that lose them keep their rows as they
    were until every cluster in `waiting` reports its planned replicas ready, then they are
    scaled down or their objects removed (`releases`). One per resource at a time."""

    resource = models.OneToOneField(FederatedResource, on_delete=models.CASCADE, related_name="handoff")
    # cluster pk (as a string: JSON keys) -> replicas once released; null = remove the object.
    releases = models.JSONField(_("releases"), default=dict)
    # cluster pks whose new replicas must be ready first.
    waiting = models.JSONField(_("waiting for"), default=list)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)

    class Meta:
        ordering = ["started_at"]
        verbose_name = _("handoff")
        verbose_name_plural = _("handoffs")

    def __str__(self):
        return f"handoff of resource {self.resource_id}"
