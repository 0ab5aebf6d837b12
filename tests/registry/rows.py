"""Registry rows for tests outside tests/registry (the API matrix and contract)."""
from paas.actors import Actor


def registry_rows(tenant, owner):
    """A built-in registry repository with a tag, and an external registry, of the tenant."""
    from applications.registry.models import Blob, Manifest, Repository, Tag
    from applications.registry.services import external_registry_create

    repository = Repository.objects.create(tenant=tenant, name=f"{tenant.slug}/api")
    blob = Blob.objects.create(digest="sha256:" + "a" * 64, size=2)
    manifest = Manifest.objects.create(repository=repository, digest=blob.digest, size=2, blob=blob,
                                       media_type="application/vnd.oci.image.manifest.v1+json")
    Tag.objects.create(repository=repository, name="v1", manifest=manifest)
    actor = Actor.for_user(owner) if owner is not None else Actor.for_system("tests")
    external = external_registry_create(actor=actor, tenant=tenant, name="harbor",
                                        url="https://harbor.example.com", username="robot", password="x")
    return repository, external
