"""The built-in OCI registry's records (repositories, manifests, tags, blobs, uploads) and the
external registries builds push to and clusters pull from.

Bytes live on disk (applications.registry.storage); these rows say what exists and where it may
be read. A blob is stored once, whoever pushed it, but is readable in a repository only once it
was pushed or mounted there (RepositoryBlob): knowing a digest never gives another tenant's layer.
"""
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant

# The namespace of the platform's base images; every other first path component is a tenant slug.
PLATFORM_NAMESPACE = "platform"


class Repository(models.Model):
    # Null for the platform/ namespace (base images, readable by everyone signed in).
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, null=True, blank=True,
                               related_name="image_repositories")
    name = models.CharField(_("name"), max_length=255, unique=True)  # "acme/payments-api"
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_push_at = models.DateTimeField(_("last push"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("image repository")
        verbose_name_plural = _("image repositories")
        permissions = [("push_platform_image", _("Push and delete images in the platform/ namespace"))]

    def __str__(self):
        return self.name

    @property
    def short_name(self) -> str:
        """The name without its namespace: "payments-api" for "acme/payments-api"."""
        return self.name.partition("/")[2]


class Blob(models.Model):
    digest = models.CharField(_("digest"), max_length=80, unique=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # Last upload, mount or existence check: garbage collection spares blobs touched within its
    # grace period, so a client that saw the blob exist can still push the manifest naming it.
    touched_at = models.DateTimeField(_("last used"), auto_now_add=True)

    class Meta:
        ordering = ["digest"]
        verbose_name = _("blob")
        verbose_name_plural = _("blobs")
        indexes = [models.Index(fields=["touched_at"], name="registry_blob_touched")]

    def __str__(self):
        return self.digest


class RepositoryBlob(models.Model):
    """A blob readable in a repository (pushed or mounted there)."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="blob_links")
    blob = models.ForeignKey(Blob, on_delete=models.CASCADE, related_name="links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("blob in repository")
        verbose_name_plural = _("blobs in repositories")
        constraints = [models.UniqueConstraint(fields=["repository", "blob"], name="registry_blob_link_unique")]

    def __str__(self):
        return f"{self.repository}@{self.blob}"


class Manifest(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="manifests")
    digest = models.CharField(_("digest"), max_length=80)
    media_type = models.CharField(_("media type"), max_length=255)
    size = models.PositiveIntegerField(_("manifest size (bytes)"))
    # The manifest's own bytes, stored as a blob (and linked into the repository).
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="as_manifest")
    # Config and layers (image manifests); GC keeps whatever is listed here.
    blobs = models.ManyToManyField(Blob, related_name="manifests", blank=True)
    # Manifests of an index / manifest list (same repository).
    children = models.ManyToManyField("self", symmetrical=False, related_name="parents", blank=True)
    subject_digest = models.CharField(_("subject"), max_length=80, blank=True)
    artifact_type = models.CharField(_("artifact type"), max_length=255, blank=True)
    config_digest = models.CharField(_("config digest"), max_length=80, blank=True)
    annotations = models.JSONField(_("annotations"), default=dict, blank=True)
    layer_count = models.PositiveIntegerField(_("layers"), default=0)
    # Manifest + config + layers (for an index: its own size plus its children's totals).
    total_size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    pushed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    pushed_by_label = models.CharField(_("pushed by"), max_length=200, blank=True)
    pushed_at = models.DateTimeField(_("pushed"), auto_now_add=True)

    class Meta:
        ordering = ["repository", "-pushed_at"]
        verbose_name = _("manifest")
        verbose_name_plural = _("manifests")
        constraints = [models.UniqueConstraint(fields=["repository", "digest"], name="registry_manifest_unique")]
        indexes = [models.Index(fields=["repository", "subject_digest"], name="registry_manifest_subject")]

    def __str__(self):
        return f"{self.repository}@{self.digest}"

    @property
    def reference(self) -> str:
        return f"{settings.REGISTRY_HOST}/{self.repository.name}@{self.digest}"


class Tag(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(_("tag"), max_length=128)
    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="tags")
    pushed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    pushed_by_label = models.CharField(_("pushed by"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("pushed"), auto_now=True)

    class Meta:
        ordering = ["repository", "name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [models.UniqueConstraint(fields=["repository", "name"], name="registry_tag_unique")]

    def __str__(self):
        return f"{self.repository}:{self.name}"


class Upload(models.Model):
    """A blob upload session; its bytes so far are in storage's uploads/<id> file."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="uploads")
    size = models.PositiveBigIntegerField(_("bytes received"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last chunk"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("upload session")
        verbose_name_plural = _("upload sessions")
        indexes = [models.Index(fields=["updated_at"], name="registry_upload_updated")]

    def __str__(self):
        return f"{self.repository} upload {self.id}"


class ExternalRegistry(models.Model):
    """A registry outside the platform (Harbor, distribution, a cloud registry) that builds push
    to and clusters pull from, for one tenant or (tenant null) for every tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, null=True, blank=True,
                               related_name="external_registries")
    name = models.CharField(_("name"), max_length=40)
    # "https://harbor.example.com" or "http://10.0.0.5:5000"; the host[:port] is what image references name.
    url = models.CharField(_("URL"), max_length=300)
    host = models.CharField(_("host"), max_length=255, editable=False)
    username = models.CharField(_("username"), max_length=200, blank=True)
    # Fernet token of the password (applications.registry.external, the clusters' key). Never rendered.
    password_encrypted = models.BinaryField(editable=False, default=b"")
    insecure = models.BooleanField(_("skip TLS verification"), default=False)
    description = models.CharField(_("description"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["tenant__slug", "name"]
        verbose_name = _("external registry")
        verbose_name_plural = _("external registries")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="registry_external_unique_name"),
            models.UniqueConstraint(fields=["name"], condition=models.Q(tenant__isnull=True),
                                    name="registry_external_unique_platform_name"),
        ]

    def __str__(self):
        return f"{self.tenant.slug if self.tenant_id else 'platform'}/{self.name}"

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    def audit_fields(self) -> dict:
        """What the audit trail records: never the password, only whether there is one."""
        return {"name": self.name, "url": self.url, "username": self.username, "insecure": self.insecure,
                "description": self.description, "login_stored": self.has_password,
                "scope": self.tenant.slug if self.tenant_id else "platform"}
