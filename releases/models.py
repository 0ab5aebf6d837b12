"""Releases: one application instance moved from its baseline revision to a target revision
over every cluster it runs on, as a persistent state machine.

- Release: baseline → target of one AppInstance; the options the user chose, the plan built
  from them (``plan``, see releases/plan.py for its shape), the state, the flags the executor
  reads between actions (pause/abort/rollback requested) and the executor's lease.
- ReleaseStep: one step of the plan (beta, a batch of a group, or the rollback), with its
  gate results.
- StepTarget: what one step wants from one workload in one cluster (pods on the target
  revision after the step, out of how many) and what was observed there.
- PodProgress: the state of one pod in the release (the page's cells × clusters grid).
- ReleaseEvent: every transition, numbered per release without gaps (``Release.last_seq``
  is incremented under the release's row lock), replayed to reconnecting browsers.
- TrafficProvider: how an instance's pods are taken out of and put back into traffic.
"""
from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Release(models.Model):
    class State(models.TextChoices):
        PLANNED = "planned", _("Planned")  # created and previewed, not started
        RUNNING = "running", _("Running")
        WAITING = "waiting", _("Waiting for confirmation")
        PAUSED = "paused", _("Paused")
        ROLLING_BACK = "rolling_back", _("Rolling back")
        SUCCEEDED = "succeeded", _("Succeeded")
        ABORTED = "aborted", _("Aborted")
        ROLLED_BACK = "rolled_back", _("Rolled back")
        FAILED = "failed", _("Failed")

    # States in which the release may still change the clusters (at most one per instance).
    ACTIVE_STATES = (State.PLANNED, State.RUNNING, State.WAITING, State.PAUSED, State.ROLLING_BACK)
    # States the executor drives on its own (it holds a lease while it does).
    DRIVEN_STATES = (State.RUNNING, State.ROLLING_BACK)
    FINAL_STATES = (State.SUCCEEDED, State.ABORTED, State.ROLLED_BACK, State.FAILED)

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="releases")
    environment = models.ForeignKey("tenants.Environment", on_delete=models.CASCADE, related_name="releases")
    instance = models.ForeignKey("applications.AppInstance", on_delete=models.CASCADE, related_name="releases")
    # RESTRICT, not PROTECT: a revision a release names cannot be deleted on its own, but deleting the
    # application or environment takes both away together (PROTECT made that a 500).
    baseline = models.ForeignKey("applications.AppRevision", on_delete=models.RESTRICT, related_name="+",
                                 verbose_name=_("baseline revision"))
    target = models.ForeignKey("applications.AppRevision", on_delete=models.RESTRICT, related_name="+",
                               verbose_name=_("target revision"))
    number = models.PositiveIntegerField(_("number"))  # per instance: "release 3 of payments-api @ prod"
    description = models.TextField(_("description"), blank=True, max_length=2000)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PLANNED)
    options = models.JSONField(_("options"), default=dict, blank=True)
    plan = models.JSONField(_("plan"), default=dict, blank=True)
    current_step = models.PositiveIntegerField(_("current step"), default=0)
    # Flags set by actions and read by the executor between two cluster calls.
    pause_requested = models.BooleanField(_("pause requested"), default=False)
    abort_requested = models.BooleanField(_("abort requested"), default=False)
    rollback_requested = models.BooleanField(_("rollback requested"), default=False)
    reason = models.TextField(_("reason"), blank=True)  # why it is paused / failed / rolled back, in words
    last_seq = models.PositiveIntegerField(_("last event number"), default=0)
    # The executor's lease: whoever holds it (and only they) acts on the clusters; a dead holder's
    # lease expires and the reaper hands the release to another worker. The token fences writes
    # of a holder that lost its lease without knowing.
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("release")
        verbose_name_plural = _("releases")
        constraints = [
            models.UniqueConstraint(fields=["instance", "number"], name="release_unique_number_per_instance"),
        ]
        indexes = [models.Index(fields=["state", "lease_expires_at"], name="release_state_lease")]

    def __str__(self):
        return f"{self.instance} #{self.number}"

    def get_absolute_url(self):
        return reverse("releases:detail", kwargs={"pk": self.pk})

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    def audit_fields(self) -> dict:
        return {"application": self.instance.application.name, "environment": self.environment.slug,
                "number": self.number, "baseline": self.baseline.number, "target": self.target.number,
                "state": self.state, "current_step": self.current_step}


class ReleaseStep(models.Model):
    class Kind(models.TextChoices):
        BETA = "beta", _("Beta")
        BATCH = "batch", _("Batch")
        ROLLBACK = "rollback", _("Rollback")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        WAITING = "waiting", _("Waiting for confirmation")
        RUNNING = "running", _("Running")
        VERIFYING = "verifying", _("Checking gates")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="steps")
    index = models.PositiveIntegerField(_("index"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    group = models.CharField(_("group"), max_length=200, blank=True)  # "cell east-1b", "zone east-1"
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    manual = models.BooleanField(_("needs confirmation"), default=False)
    wait_seconds = models.PositiveIntegerField(_("wait before starting"), default=0)
    estimate_seconds = models.FloatField(_("estimated duration"), default=0)
    gate_results = models.JSONField(_("gate results"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["release", "index"]
        verbose_name = _("release step")
        verbose_name_plural = _("release steps")
        constraints = [models.UniqueConstraint(fields=["release", "index"], name="releasestep_unique_index")]

    def __str__(self):
        return f"{self.release} step {self.index + 1}: {self.name}"


class StepTarget(models.Model):
    """One workload in one cluster for one step: `desired` pods on the target revision once the
    step is done (cumulative over the release), out of `total`; `updated`/`ready` as last observed."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    step = models.ForeignKey(ReleaseStep, on_delete=models.CASCADE, related_name="targets")
    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.CASCADE, related_name="+")
    component = models.CharField(_("component"), max_length=63)
    workload_kind = models.CharField(_("workload kind"), max_length=20)  # CloneSet / Deployment
    workload_name = models.CharField(_("workload"), max_length=253)
    in_place = models.BooleanField(_("in place"), default=False)
    desired = models.PositiveIntegerField(_("pods on target after the step"))
    total = models.PositiveIntegerField(_("pods"))
    updated = models.PositiveIntegerField(_("updated"), default=0)
    ready = models.PositiveIntegerField(_("updated and ready"), default=0)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["step", "cluster__slug", "component"]
        verbose_name = _("step target")
        verbose_name_plural = _("step targets")
        constraints = [models.UniqueConstraint(fields=["step", "cluster", "component"],
                                               name="steptarget_unique_cluster_component")]

    def __str__(self):
        return f"{self.step} {self.component}@{self.cluster_id}: {self.desired}/{self.total}"


class PodProgress(models.Model):
    """One pod of the instance during a release, keyed by cluster and pod name (an in-place update
    keeps the name; a recreated pod is a new row and the old one becomes `gone`)."""

    class State(models.TextChoices):
        OLD = "old", _("On the baseline")
        OUT_OF_TRAFFIC = "draining", _("Taken out of traffic")
        UPDATING = "updating", _("Updating")
        WARMING = "warming", _("Warming up")
        NEW = "new", _("Ready on the target")
        FAILED = "failed", _("Failed")
        GONE = "gone", _("Deleted")

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="pods")
    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.CASCADE, related_name="+")
    component = models.CharField(_("component"), max_length=63)
    name = models.CharField(_("pod"), max_length=253)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OLD)
    revision = models.PositiveIntegerField(_("revision"), null=True, blank=True)  # AppRevision.number it runs
    restarts = models.PositiveIntegerField(_("restarts"), default=0)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["release", "cluster__slug", "component", "name"]
        verbose_name = _("pod progress")
        verbose_name_plural = _("pod progress")
        constraints = [models.UniqueConstraint(fields=["release", "cluster", "name"], name="podprogress_unique_pod")]

    def __str__(self):
        return f"{self.name} ({self.state})"


class ReleaseEvent(models.Model):
    """A numbered transition of one release (seq 1, 2, 3 … without gaps): the event log, and what a
    reconnecting browser replays (``?after=<seq>``)."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField(_("number"))
    kind = models.CharField(_("kind"), max_length=40)  # "release.started", "step.succeeded", "pod.state", ...
    message = models.TextField(_("message"), blank=True)  # in words, for the event log
    data = models.JSONField(_("data"), default=dict, blank=True)
    actor = models.CharField(_("actor"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        ordering = ["release", "seq"]
        verbose_name = _("release event")
        verbose_name_plural = _("release events")
        constraints = [models.UniqueConstraint(fields=["release", "seq"], name="releaseevent_unique_seq")]

    def __str__(self):
        return f"#{self.seq} {self.kind}"

    def as_dict(self) -> dict:
        return {"seq": self.seq, "kind": self.kind, "message": self.message, "data": self.data,
                "actor": self.actor, "at": self.created_at.isoformat() if self.created_at else None}


class TrafficProvider(models.Model):
    """How an instance's pods leave and rejoin traffic during a release. The Kubernetes readiness
    gate is always there (the CloneSet's InPlaceUpdateReady gate); these are the others."""

    class Kind(models.TextChoices):
        REGISTRY = "registry", _("RPC service registry")
        LOAD_BALANCER = "load_balancer", _("Load balancer (SLB/ALB)")
        DNS = "dns", _("DNS records")
        WEBHOOK = "webhook", _("Signed HTTP webhook")

    instance = models.ForeignKey("applications.AppInstance", on_delete=models.CASCADE,
                                 related_name="traffic_providers")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=63)
    url = models.URLField(_("API URL"), max_length=500)
    config = models.JSONField(_("settings"), default=dict, blank=True)  # service name, zone, record name ...
    secret = models.BinaryField(_("signing secret (sealed)"), null=True, blank=True, editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["instance", "name"]
        verbose_name = _("traffic provider")
        verbose_name_plural = _("traffic providers")
        constraints = [models.UniqueConstraint(fields=["instance", "name"], name="trafficprovider_unique_name")]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    def audit_fields(self) -> dict:
        return {"name": self.name, "kind": self.kind, "url": self.url, "config": self.config,
                "enabled": self.enabled, "secret": "***" if self.secret else ""}
