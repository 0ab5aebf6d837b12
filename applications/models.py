"""Applications: what a tenant delivers, and the Dockerfiles its images are built from.

- Application: one deliverable of a tenant (components, instances and revisions hang off it;
  see the applications issue).
- BaseImage: the platform's allowed list of base images (``FROM``), seeded into the
  built-in registry; prod Dockerfiles may only start from an image on it.
- DockerfileVersion: every saved version of an application's Dockerfile, immutable,
  numbered per application, with its lint findings.
"""
from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant

# A DNS-1123 label: usable as a Kubernetes object name, a registry repository component
# and a URL segment without escaping.
dns_label_validator = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$",
    _("Use 1-40 lowercase letters, digits and dashes, starting and ending with a letter or digit."),
)


class Stack(models.TextChoices):
    JAVA = "java", _("Java (Spring Boot jar)")
    GO = "go", _("Go (static binary)")
    PYTHON = "python", _("Python")
    NODE = "node", _("Node.js")
    STATIC = "static", _("Static web (nginx)")
    OTHER = "other", _("Other")


class Application(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="applications")
    name = models.CharField(_("name"), max_length=40, validators=[dns_label_validator])
    description = models.TextField(_("description"), blank=True, max_length=2000)
    team = models.CharField(_("owning team"), max_length=100, blank=True)
    repository_url = models.URLField(_("source repository"), max_length=500, blank=True)
    stack = models.CharField(_("language stack"), max_length=8, choices=Stack.choices, default=Stack.OTHER)
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["tenant", "name"]
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="application_unique_name"),
        ]

    def __str__(self):
        return f"{self.tenant.slug}/{self.name}"

    @property
    def repository(self) -> str:
        """The application's image repository in the built-in registry."""
        return f"{self.tenant.slug}/{self.name}"


class BaseImage(models.Model):
    """An entry of the platform's allowed base images, e.g. ``platform/jre:17``.

    ``name`` is a repository of the built-in registry (``platform/<name>``) unless it names a
    registry host itself; ``digest`` is filled when the image is seeded or checked.
    """

    name = models.CharField(_("repository"), max_length=200)
    tag = models.CharField(_("tag"), max_length=128)
    stack = models.CharField(_("stack"), max_length=8, choices=Stack.choices, default=Stack.OTHER)
    description = models.CharField(_("description"), max_length=200, blank=True)
    digest = models.CharField(_("digest"), max_length=80, blank=True)
    allowed_in_prod = models.BooleanField(_("allowed in prod"), default=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["stack", "name", "tag"]
        verbose_name = _("base image")
        verbose_name_plural = _("base images")
        constraints = [
            models.UniqueConstraint(fields=["name", "tag"], name="baseimage_unique_name_tag"),
        ]

    def __str__(self):
        return self.reference

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.tag}"


class DockerfileVersion(models.Model):
    """One saved version of an application's Dockerfile. Never changed after it is saved:
    editing saves the next number."""

    class LintStatus(models.TextChoices):
        OK = "ok", _("No findings")
        WARNINGS = "warnings", _("Warnings")
        ERRORS = "errors", _("Errors")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="dockerfiles")
    number = models.PositiveIntegerField(_("version"))
    content = models.TextField(_("Dockerfile"), max_length=65536)
    stack = models.CharField(_("stack template"), max_length=8, choices=Stack.choices, blank=True)
    # The form values it was generated from ({} when written by hand).
    form = models.JSONField(_("form values"), default=dict, blank=True)
    # [{"line": 3, "severity": "error"|"warning"|"info", "code": "DL3007"|"platform.base", "message": "...",
    #   "source": "hadolint"|"platform"|"parser"}]
    findings = models.JSONField(_("lint findings"), default=list, blank=True)
    lint_status = models.CharField(_("lint"), max_length=8, choices=LintStatus.choices, default=LintStatus.OK)
    comment = models.CharField(_("comment"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+")
    created_at = models.DateTimeField(_("saved"), auto_now_add=True)

    class Meta:
        ordering = ["application", "-number"]
        verbose_name = _("Dockerfile version")
        verbose_name_plural = _("Dockerfile versions")
        constraints = [
            models.UniqueConstraint(fields=["application", "number"], name="dockerfile_unique_number"),
        ]

    def __str__(self):
        return f"{self.application} Dockerfile v{self.number}"

    @property
    def buildable(self) -> bool:
        return self.lint_status != self.LintStatus.ERRORS
