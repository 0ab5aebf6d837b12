"""The platform's own client and builder (applications/oci) against the built-in registry, served
by daphne, with its token auth: base images seeded under platform/ with a system token
(auth.issue_token), an image built into acme/ with a developer's API token, its provenance found
through the referrers API, a rebuild that uploads nothing, and manifest_for resolving the result."""
import pytest

from applications.oci import references
from applications.oci.base_images import BASE_IMAGES, seed_base_images
from applications.oci.builder import build_image
from applications.oci.client import RegistryClient, RegistryError
from applications.registry.auth import issue_token
from applications.registry.selectors import manifest_for

pytestmark = [pytest.mark.registry_server, pytest.mark.django_db(transaction=True)]

DOCKERFILE = """FROM platform/jre:17
COPY app.jar /app/app.jar
USER 10001
EXPOSE 8080
ENTRYPOINT ["java", "-jar", "/app/app.jar"]
"""


def test_seed_build_and_rebuild_against_the_builtin_registry(builtin_server, acme, settings):
    base = builtin_server[0]
    host = base.split("://", 1)[1]
    settings.REGISTRY_HOST = host  # "FROM platform/jre:17" (no host) means this registry
    system = issue_token(user=None, tenant=None, ttl=600,
                         scopes=[f"repository:platform/{spec.name}:pull,push" for spec in BASE_IMAGES])
    with RegistryClient(base, token=system) as seeder:
        seeded = {f"{name}:{tag}": digest for name, tag, digest in seed_base_images(seeder, only=["jre"])}
    assert set(seeded) == {"platform/jre:17"}

    target = references.parse(f"{host}/acme/payments:1")
    with RegistryClient(base, username="dev", password=acme["write"]) as client:
        first = build_image(dockerfile=DOCKERFILE, context_files={"app.jar": b"PK fake jar"}, target=target,
                            client=client, build_id="build-1", provenance={"build": 1})
        assert first.base_digest == seeded["platform/jre:17"]
        assert client.manifest_digest("acme/payments", "1") == first.digest
        referrers = client.referrers("acme/payments", first.digest)
        assert [r["digest"] for r in referrers] == [first.provenance_digest]
        again = build_image(dockerfile=DOCKERFILE, context_files={"app.jar": b"PK fake jar"}, target=target,
                            client=client, build_id="build-1", provenance={"build": 1})
        assert again.digest == first.digest and again.blobs_uploaded == 0

    found = manifest_for(acme["tenant"], "payments", "1")
    assert found is not None and found.digest == first.digest
    assert found.layer_count == len(first.layers)

    # A read-only token pulls what was built and cannot push over it.
    with RegistryClient(base, username="dev", password=acme["read"]) as reader:
        assert reader.manifest_digest("acme/payments", first.digest) == first.digest
        with pytest.raises(RegistryError) as refused:
            reader.push_blob("acme/payments", b"not allowed")
        assert refused.value.status == 403
    # Another tenant's token sees nothing there.
    with RegistryClient(base, username="rival", password=acme["rival_token"]) as rival:
        assert rival.manifest_digest("acme/payments", "1") is None
