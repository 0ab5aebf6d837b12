"""Builds: an uploaded artifact + a Dockerfile version -> an OCI image pushed to a registry.

- Artifact: an uploaded binary (jar, Go binary, tarball), stored on disk by SHA-256.
- Build: one run of the builder; its inputs, outcome (digest, size) and provenance.
- BuildLogLine: the build's log, numbered from 1 without gaps, so a browser that reconnects
  asks for the lines after the last number it saw.
"""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from applications.models import Application, DockerfileVersion
from tenants.models import Tenant


class Artifact(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="artifacts")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="artifacts")
    filename = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    # Relative to settings.BUILD_ARTIFACT_DIR (content-addressed: sha256/<hex>).
    path = models.CharField(_("stored at"), max_length=300)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                    blank=True, related_name="+")
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("artifact")
        verbose_name_plural = _("artifacts")

    def __str__(self):
        return f"{self.filename} ({self.sha256[:12]})"


class Build(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    FINISHED = (State.SUCCEEDED, State.FAILED, State.CANCELLED)

    class Step(models.TextChoices):
        # In the order a build goes through them; `step` is the one under way (or where it stopped).
        PREPARE = "prepare", _("Prepare inputs")
        BASE = "base", _("Fetch base image")
        LAYERS = "layers", _("Build layers")
        PUSH = "push", _("Push image")
        PROVENANCE = "provenance", _("Push provenance")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="builds")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="builds")
    number = models.PositiveIntegerField(_("number"))
    dockerfile = models.ForeignKey(DockerfileVersion, on_delete=models.PROTECT, related_name="builds")
    artifact = models.ForeignKey(Artifact, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="builds")
    # Where the image goes: the built-in registry ("") or an external registry's id (see registry app).
    registry = models.CharField(_("registry"), max_length=100, blank=True)
    repository = models.CharField(_("repository"), max_length=255)
    tag = models.CharField(_("tag"), max_length=128)
    build_args = models.JSONField(_("build arguments"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    builder = models.CharField(_("builder"), max_length=20, blank=True)  # "native 1" / "buildah 1.28.2"
    image_digest = models.CharField(_("image digest"), max_length=80, blank=True)
    image_size = models.PositiveBigIntegerField(_("image size (bytes)"), null=True, blank=True)
    base_image_digest = models.CharField(_("base image digest"), max_length=80, blank=True)
    # The inputs record pushed next to the image as an OCI artifact that refers to it.
    provenance = models.JSONField(_("provenance"), default=dict, blank=True)
    provenance_digest = models.CharField(_("provenance digest"), max_length=80, blank=True)
    blobs_uploaded = models.PositiveIntegerField(_("blobs uploaded"), default=0)
    blobs_reused = models.PositiveIntegerField(_("blobs already in the registry"), default=0)
    error = models.TextField(_("error"), blank=True)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    # Runs started (a killed worker's build is run once more, then failed).
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    step = models.CharField(_("step"), max_length=12, choices=Step.choices, blank=True)
    # When the run message was last sent: a queued build nobody took for long is sent again.
    enqueued_at = models.DateTimeField(_("enqueued"), null=True, blank=True)
    log_lines = models.PositiveIntegerField(_("log lines"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("build")
        verbose_name_plural = _("builds")
        constraints = [
            models.UniqueConstraint(fields=["application", "number"], name="build_unique_number"),
        ]
        indexes = [models.Index(fields=["state", "heartbeat_at"], name="build_state_heartbeat")]

    def __str__(self):
        return f"{self.application} build #{self.number}"

    @property
    def finished(self) -> bool:
        return self.state in self.FINISHED

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class BuildLogLine(models.Model):
    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="lines")
    number = models.PositiveIntegerField(_("line"))
    text = models.TextField(_("text"), max_length=4000)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        ordering = ["build", "number"]
        verbose_name = _("build log line")
        verbose_name_plural = _("build log lines")
        constraints = [
            models.UniqueConstraint(fields=["build", "number"], name="buildlog_unique_number"),
        ]

    def __str__(self):
        return f"{self.build} line {self.number}"
