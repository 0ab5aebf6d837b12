"""Applications: what a tenant delivers, and the Dockerfiles its images are built from.

- Application: one deliverable of a tenant (components, instances and revisions hang off it;
  see the applications issue).
- BaseImage: the platform's allowed list of base images (``FROM``), seeded into the
  built-in registry; prod Dockerfiles may only start from an image on it.
- DockerfileVersion: every saved version of an application's Dockerfile, immutable,
  numbered per application, with its lint findings.
- Component: one workload of an application (image, command, ports, env, config files,
  resources, probes, replicas per environment kind).
- ApplicationDependency: "payments-api needs accounts-api", kept acyclic by the services.
- AppInstance: the application in one environment: placement, baseline and target revisions.
- AppRevision: immutable, numbered per application and environment; images by digest.
- InstanceResource: the FederatedResources an instance owns (nobody else may change them).
"""
from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
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
        # Object-level grants: one person may change just this application.
        permissions = [("manage_applications", "Change this application, its components and revisions")]

    def __str__(self):
        return f"{self.tenant.slug}/{self.name}"

    def get_absolute_url(self):
        return reverse("applications:detail", kwargs={"app_id": self.pk})

    def audit_fields(self) -> dict:
        return {"name": self.name, "description": self.description, "team": self.team,
                "repository_url": self.repository_url, "stack": self.stack, "labels": self.labels}

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


# --- components, dependencies, instances and revisions ------------------------------------------

ENVIRONMENT_KINDS = ("dev", "test", "pre", "prod")


def default_replicas() -> dict:
    return {"dev": 1, "test": 1, "pre": 2, "prod": 2}


class Component(models.Model):
    """One workload of an application: a container image and how it runs.

    The image may be a tag while editing; a revision pins it to a digest. Secret env values
    are kept encrypted (applications/secrets.py) and never shown again: only their names.
    """

    class WorkloadKind(models.TextChoices):
        DEPLOYMENT = "deployment", _("Deployment")
        CLONESET = "cloneset", _("CloneSet (OpenKruise, in-place upgrades)")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="components")
    name = models.CharField(_("name"), max_length=40, validators=[dns_label_validator])
    workload_kind = models.CharField(_("workload kind"), max_length=10, choices=WorkloadKind.choices,
                                     default=WorkloadKind.DEPLOYMENT)
    image = models.CharField(_("image"), max_length=500)
    command = models.JSONField(_("command"), default=list, blank=True)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    # [{"name": "http", "port": 8080, "protocol": "TCP"}]
    ports = models.JSONField(_("ports"), default=list, blank=True)
    # [{"name": "JAVA_OPTS", "value": "-Xmx512m"}]
    env = models.JSONField(_("environment variables"), default=list, blank=True)
    # Fernet token of {"NAME": "value"}; names repeated in clear in secret_env_names for pages.
    secret_env = models.BinaryField(_("secret environment variables"), blank=True, default=b"")
    secret_env_names = models.JSONField(_("secret variable names"), default=list, blank=True)
    # [{"path": "/etc/app/application.yaml", "content": "..."}]: a ConfigMap mounted at each path.
    config_files = models.JSONField(_("config files"), default=list, blank=True)
    # {"requests": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "1Gi"}, "limits": {...}}
    resources = models.JSONField(_("resources"), default=dict, blank=True)
    cpuset_cores = models.PositiveSmallIntegerField(_("exclusive cpuset cores"), default=0)
    # {"type": "http", "path": "/healthz", "port": 8080, "initial_delay_seconds": 5, "period_seconds": 10, ...}
    liveness_probe = models.JSONField(_("liveness probe"), default=dict, blank=True)
    readiness_probe = models.JSONField(_("readiness probe"), default=dict, blank=True)
    # Per environment kind: {"dev": 1, "test": 1, "pre": 2, "prod": 3}.
    replicas = models.JSONField(_("replicas per environment kind"), default=default_replicas)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["application", "name"]
        verbose_name = _("component")
        verbose_name_plural = _("components")
        constraints = [
            models.UniqueConstraint(fields=["application", "name"], name="component_unique_name"),
        ]

    def __str__(self):
        return f"{self.application}/{self.name}"

    @property
    def tenant(self):
        return self.application.tenant

    def audit_fields(self) -> dict:
        # Secret values never: their names only (under a key the audit redaction leaves readable).
        return {"name": self.name, "workload_kind": self.workload_kind, "image": self.image,
                "command": self.command, "args": self.args, "ports": self.ports, "env": self.env,
                "sensitive_variables": sorted(self.secret_env_names), "config_files": [f.get("path") for f in self.config_files],
                "resources": self.resources, "cpuset_cores": self.cpuset_cores,
                "liveness_probe": self.liveness_probe, "readiness_probe": self.readiness_probe,
                "replicas": self.replicas}


class ApplicationDependency(models.Model):
    """"application needs depends_on": same tenant, and the graph stays acyclic (services refuse a
    cycle, naming it). The release pipeline orders releases by these edges."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="dependencies")
    depends_on = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="dependents")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["application", "depends_on__name"]
        verbose_name = _("application dependency")
        verbose_name_plural = _("application dependencies")
        constraints = [
            models.UniqueConstraint(fields=["application", "depends_on"], name="dependency_unique_edge"),
            models.CheckConstraint(condition=~models.Q(application=models.F("depends_on")),
                                   name="dependency_not_self"),
        ]

    def __str__(self):
        return f"{self.application.name} -> {self.depends_on.name}"

    @property
    def tenant(self):
        return self.application.tenant


class AppInstance(models.Model):
    """The application in one environment (the seed's FedAppInstance): where it runs (placement over
    the environment's bindings, in clusters/federation/placement.py's vocabulary without
    totalReplicas, which each component's replicas give), what is live (baseline) and what is
    being released (target). Its Kubernetes objects are FederatedResources linked by
    InstanceResource."""

    class State(models.TextChoices):
        EMPTY = "empty", _("Nothing deployed")
        DEPLOYED = "deployed", _("Deployed")
        RELEASING = "releasing", _("Releasing")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="instances")
    environment = models.ForeignKey("tenants.Environment", on_delete=models.CASCADE, related_name="app_instances")
    placement = models.JSONField(_("placement"), default=dict, blank=True)
    baseline = models.ForeignKey("AppRevision", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+", verbose_name=_("baseline revision"))
    target = models.ForeignKey("AppRevision", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+", verbose_name=_("target revision"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.EMPTY)
    applied_at = models.DateTimeField(_("applied"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["application", "environment__slug"]
        verbose_name = _("application instance")
        verbose_name_plural = _("application instances")
        constraints = [
            models.UniqueConstraint(fields=["application", "environment"], name="appinstance_unique_env"),
        ]

    def __str__(self):
        return f"{self.application} @ {self.environment.slug}"

    def get_absolute_url(self):
        return reverse("applications:instance", kwargs={"app_id": self.application_id, "env": self.environment.slug})

    @property
    def tenant(self):
        return self.application.tenant

    @property
    def owner_key(self) -> str:
        """What federation services are told when this instance changes its own resources."""
        return f"app-instance:{self.pk}"

    def audit_fields(self) -> dict:
        return {"application": self.application.name, "environment": self.environment.slug,
                "placement": self.placement, "state": self.state,
                "baseline": self.baseline.number if self.baseline_id else None,
                "target": self.target.number if self.target_id else None}


class ImmutableRevision(Exception):
    """An AppRevision row was about to be changed: editing creates a new revision."""


class AppRevision(models.Model):
    """An immutable, numbered description of an application in one environment: every component's
    image by digest, command, env (secret env by reference), config files, resources, probes,
    replicas per environment kind, workload kind. Saving an existing row raises."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="revisions")
    environment = models.ForeignKey("tenants.Environment", on_delete=models.CASCADE, related_name="app_revisions")
    number = models.PositiveIntegerField(_("number"))
    spec = models.JSONField(_("spec"))
    spec_hash = models.CharField(_("spec hash"), max_length=64)
    # Fernet token of {component: {NAME: value}}: the secret env values the spec refers to, so the
    # revision deploys exactly what it was created with (promotion copies the token unchanged).
    secret_values = models.BinaryField(_("secret values"), blank=True, default=b"")
    build = models.ForeignKey("builds.Build", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="revisions", verbose_name=_("build"))
    promoted_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="promotions", verbose_name=_("promoted from"))
    comment = models.CharField(_("comment"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["application", "environment__slug", "-number"]
        verbose_name = _("application revision")
        verbose_name_plural = _("application revisions")
        constraints = [
            models.UniqueConstraint(fields=["application", "environment", "number"], name="apprevision_unique_number"),
        ]
        indexes = [models.Index(fields=["application", "environment", "spec_hash"], name="apprevision_spec")]

    def __str__(self):
        return f"{self.application} {self.environment.slug} r{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRevision(f"{self} is immutable: create a new revision instead")
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("applications:revision", kwargs={"app_id": self.application_id, "pk": self.pk})

    @property
    def tenant(self):
        return self.application.tenant

    def audit_fields(self) -> dict:
        return {"application": self.application.name, "environment": self.environment.slug, "number": self.number,
                "spec_digest": self.spec_hash, "build": self.build_id,
                "promoted_from": self.promoted_from_id, "comment": self.comment,
                "images": [c.get("image") for c in (self.spec or {}).get("components", [])]}


class InstanceResource(models.Model):
    """A FederatedResource owned by an application instance: federation services refuse to change
    or delete it unless the instance itself asks (clusters/federation/ownership.py)."""

    class Role(models.TextChoices):
        WORKLOAD = "workload", _("Workload")
        SERVICE = "service", _("Service")
        CONFIG = "config", _("Config files")
        SECRET = "secret", _("Secret env")
        PULL_SECRET = "pull-secret", _("Image pull secret")

    instance = models.ForeignKey(AppInstance, on_delete=models.CASCADE, related_name="resource_links")
    resource = models.OneToOneField("federation.FederatedResource", on_delete=models.CASCADE,
                                    related_name="app_link")
    component = models.CharField(_("component"), max_length=40, blank=True)
    role = models.CharField(_("role"), max_length=12, choices=Role.choices)
    revision = models.ForeignKey(AppRevision, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["instance", "component", "role"]
        verbose_name = _("instance resource")
        verbose_name_plural = _("instance resources")

    def __str__(self):
        return f"{self.instance} owns {self.resource_id}"
