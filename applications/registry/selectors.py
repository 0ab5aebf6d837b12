"""Reads of the built-in registry, scoped to who is asking.

`manifest_for` is what builds, revisions and the kubelet check use to resolve an image
reference of the built-in registry to a stored manifest.
"""
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from paas.actors import Actor
from paas.permissions import can
from tenants.models import Tenant
from tenants.selectors import tenants_visible_to

from . import names
from .models import PLATFORM_NAMESPACE, ExternalRegistry, Manifest, Repository, RepositoryBlob, Tag


def full_name(tenant: Tenant | None, repository: str) -> str:
    """"acme/payments-api" from (acme, "payments-api") or (acme, "acme/payments-api")."""
    namespace = tenant.slug if tenant is not None else PLATFORM_NAMESPACE
    return repository if repository.startswith(f"{namespace}/") else f"{namespace}/{repository}"


def manifest_in(repository: Repository, reference: str) -> Manifest | None:
    """The manifest a tag or a digest names in one repository."""
    if names.is_digest(reference):
        if not names.valid_digest(reference):
            return None
        return Manifest.objects.filter(repository=repository, digest=reference).select_related("blob").first()
    if not names.valid_tag(reference):
        return None
    tag = Tag.objects.filter(repository=repository, name=reference).select_related("manifest__blob").first()
    return tag.manifest if tag is not None else None


def manifest_for(tenant_or_none: Tenant | None, repository: str, reference: str) -> Manifest | None:
    """The manifest `reference` (a tag or ``sha256:...``) names in the tenant's repository
    (tenant None: the platform/ namespace), or None. `repository` is the name within the
    namespace ("payments-api") or the full name ("acme/payments-api"); a name in another
    namespace finds nothing."""
    name = full_name(tenant_or_none, repository)
    if not names.valid_name(name):
        return None
    found = Repository.objects.filter(name=name, tenant=tenant_or_none).first()
    return manifest_in(found, reference) if found is not None else None


def referrers(repository: Repository, digest: str, *, artifact_type: str | None = None):
    found = Manifest.objects.filter(repository=repository, subject_digest=digest)
    if artifact_type:
        found = found.filter(artifact_type=artifact_type)
    return found.order_by("pushed_at", "digest")


# --- what a portal user or API caller may see -----------------------------------------------

def can_view_repository(actor: Actor, repository: Repository) -> bool:
    if repository.tenant_id is None:
        return actor.is_system or (actor.user is not None and actor.user.is_active)
    return can(actor, "view_tenant", repository.tenant)


def repositories_visible_to(actor: Actor, *, tenant: Tenant | None = None, include_platform: bool = True):
    """Repositories of the tenants the actor may see (of `tenant` only, when given), plus the
    platform's, with their tag count, size and last push."""
    visible = tenants_visible_to(actor)
    condition = Q(tenant__in=visible.filter(pk=tenant.pk) if tenant is not None else visible)
    if include_platform:
        condition |= Q(tenant__isnull=True)
    tag_count = (Tag.objects.filter(repository=OuterRef("pk")).order_by().values("repository")
                 .annotate(n=Count("pk")).values("n"))
    # What the repository holds on disk: every blob readable in it (layers, configs, manifests).
    size = (RepositoryBlob.objects.filter(repository=OuterRef("pk")).order_by().values("repository")
            .annotate(total=Sum("blob__size")).values("total"))
    return (Repository.objects.filter(condition).select_related("tenant")
            .annotate(tag_count=Coalesce(Subquery(tag_count), 0), size=Coalesce(Subquery(size), 0))
            .order_by("name"))


def repository_get(actor: Actor, name: str) -> Repository | None:
    """A repository the actor may see, or None (missing and invisible alike)."""
    if not names.valid_name(name):
        return None
    repository = Repository.objects.select_related("tenant").filter(name=name).first()
    if repository is None or not can_view_repository(actor, repository):
        return None
    return repository


def tags_of(repository: Repository):
    return (Tag.objects.filter(repository=repository).select_related("manifest").order_by("name"))


def catalog_names(principal) -> list[str]:
    """Repository names for /v2/_catalog: the platform's and those of the principal's tenant
    that it may pull."""
    found = list(Repository.objects.filter(tenant__isnull=True).values_list("name", flat=True))
    tenant = principal.tenant
    if tenant is not None and can(principal.actor, "view_tenant", tenant):
        found += list(Repository.objects.filter(tenant=tenant).values_list("name", flat=True))
    return found


def external_registries_visible_to(actor: Actor):
    """Platform-wide entries (every signed-in caller may pick them) and those of visible tenants."""
    if not actor.is_system and (actor.user is None or not actor.user.is_active):
        return ExternalRegistry.objects.none()
    return (ExternalRegistry.objects.filter(Q(tenant__isnull=True) | Q(tenant__in=tenants_visible_to(actor)))
            .select_related("tenant").order_by("tenant__slug", "name"))
