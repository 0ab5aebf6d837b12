"""A real build, end to end: the build task with the native builder against the built-in
registry served by daphne (the product as deployed), on platform/jre:17 seeded there. The
image's digest is what `skopeo inspect` sees, its provenance is found through the referrers
API, and the same inputs built again give the same digest with no blob uploaded."""
import json
import os
import subprocess

import pytest
import requests

from applications.builds import runner, services
from applications.builds.models import Build
from applications.models import Application, DockerfileVersion
from applications.oci.base_images import seed_base_images
from applications.oci.client import RegistryClient
from applications.registry.auth import issue_token
from paas.actors import Actor
from tenants.models import ApiToken
from tests.factories import UserFactory, add_member, make_tenant, make_token

from .conftest import DOCKERFILE

pytestmark = [pytest.mark.registry_server, pytest.mark.django_db(transaction=True)]

JAR = os.urandom(256 * 1024)


@pytest.fixture
def world(registry_server, settings, tmp_path):
    base_url = registry_server[0]
    host = base_url.split("://", 1)[1]
    settings.REGISTRY_HOST = host
    settings.REGISTRY_INTERNAL_URL = base_url
    settings.BUILDER = "native"
    settings.BUILD_ARTIFACT_DIR = tmp_path / "artifacts"
    tenant = make_tenant("acme", name="Acme Payments")
    dev = UserFactory(username="dev")
    add_member(tenant, dev, "developer")
    _token, secret = make_token(dev, tenant, ApiToken.Scope.READ, name="skopeo")
    system = issue_token(user=None, tenant=tenant, scopes=["repository:platform/jre:pull,push"], ttl=600)
    seed_base_images(RegistryClient(base_url, token=system), only=["jre"])
    app = Application.objects.create(tenant=tenant, name="payments-api", stack="java",
                                     repository_url="https://git.example/acme/payments-api")
    dockerfile = DockerfileVersion.objects.create(application=app, number=1, content=DOCKERFILE)
    import io

    artifact, _ = services.artifact_upload(actor=Actor.for_user(dev), application=app, filename="app.jar",
                                           read=io.BytesIO(JAR).read)
    return {"host": host, "base_url": base_url, "dev": dev, "app": app, "dockerfile": dockerfile,
            "artifact": artifact, "read_token": secret}


def start(world, tag="1.0.0") -> Build:
    return services.build_start(actor=Actor.for_user(world["dev"]), application=world["app"],
                                dockerfile=world["dockerfile"], artifact=world["artifact"], tag=tag)


def skopeo_inspect(world, reference: str, *extra: str) -> dict:
    result = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "--creds", f"dev:{world['read_token']}", *extra,
         f"docker://{world['host']}/{reference}"],
        capture_output=True, text=True, timeout=60, env={"HOME": "/tmp", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_build_pushes_an_image_skopeo_sees_with_its_provenance(world):
    from tests.registry import servers

    servers.need(servers.SKOPEO, "skopeo")
    build = start(world)
    assert runner.run(build.pk) == Build.State.SUCCEEDED, Build.objects.get(pk=build.pk).error
    build.refresh_from_db()
    assert build.image_digest.startswith("sha256:") and build.image_size > len(JAR) // 2
    assert build.base_image_digest.startswith("sha256:") and build.blobs_uploaded >= 2
    assert build.builder.startswith("native ") and build.step == Build.Step.PROVENANCE

    inspected = skopeo_inspect(world, f"acme/payments-api@{build.image_digest}")
    assert inspected["Digest"] == build.image_digest
    labels = inspected["Labels"]
    assert labels["io.stratus.build.id"] == str(build.pk)
    assert labels["org.opencontainers.image.source"] == "https://git.example/acme/payments-api"
    assert labels["org.opencontainers.image.base.digest"] == build.base_image_digest
    assert skopeo_inspect(world, "acme/payments-api:1.0.0")["Digest"] == build.image_digest

    # The provenance artifact refers to the image and holds the inputs.
    provenance = build.provenance
    assert provenance["artifact"]["sha256"] == world["artifact"].sha256 and provenance["dockerfileVersion"] == 1
    assert provenance["base"]["digest"] == build.base_image_digest and provenance["startedBy"] == "dev"
    assert provenance["subject"]["digest"] == build.image_digest and provenance["build"]["id"] == build.pk
    token = issue_token(user=world["dev"], tenant=build.tenant, scopes=["repository:acme/payments-api:pull"])
    referrers = requests.get(f"{world['base_url']}/v2/acme/payments-api/referrers/{build.image_digest}",
                             headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert [m["digest"] for m in referrers["manifests"]] == [build.provenance_digest]
    assert referrers["manifests"][0]["artifactType"] == "application/vnd.stratus.provenance.v1+json"

    lines = list(build.lines.order_by("number").values_list("number", "text"))
    assert [n for n, _ in lines] == list(range(1, len(lines) + 1))
    assert any("Layer 1 of" in text for _, text in lines) and lines[-1][1].startswith("Build #1 succeeded: ")

    # Reproducible: the same inputs again give the same image, and no blob is uploaded again.
    again = start(world, tag="1.0.0-again")
    assert runner.run(again.pk) == Build.State.SUCCEEDED
    again.refresh_from_db()
    assert again.image_digest == build.image_digest and again.blobs_uploaded == 0
    assert skopeo_inspect(world, "acme/payments-api:1.0.0-again")["Digest"] == build.image_digest


def test_a_missing_base_image_fails_the_build_in_words(world):
    dockerfile = DockerfileVersion.objects.create(application=world["app"], number=2,
                                                  content=DOCKERFILE.replace("platform/jre:17", "platform/jre:99"))
    build = services.build_start(actor=Actor.for_user(world["dev"]), application=world["app"], dockerfile=dockerfile,
                                 artifact=world["artifact"], tag="broken")
    assert runner.run(build.pk) == Build.State.FAILED
    build.refresh_from_db()
    assert "platform/jre:99" in build.error and "not in its registry" in build.error


def test_a_run_instruction_is_refused_naming_the_line(world):
    dockerfile = DockerfileVersion.objects.create(application=world["app"], number=3,
                                                  content=DOCKERFILE + "RUN echo hi\n")
    build = services.build_start(actor=Actor.for_user(world["dev"]), application=world["app"], dockerfile=dockerfile,
                                 artifact=world["artifact"], tag="run")
    assert runner.run(build.pk) == Build.State.FAILED
    build.refresh_from_db()
    assert build.error.startswith("line 6: RUN needs a container")


def test_buildah_builds_and_pushes_with_a_run_only_token(world, settings):
    """BUILDER=buildah: buildah logs in with an API token made for this run and revoked at its
    end (a bearer token is not something buildah can use). The platform's stand-in base images
    have no shell, so RUN itself is tested by tests/oci/test_buildah.py, not here."""
    import shutil

    from tests.registry import servers

    if shutil.which("buildah") is None:
        if servers.tools_required():
            pytest.fail("buildah is missing: apt-get install buildah (.ci/run installs it)")
        pytest.skip("buildah is not installed")
    settings.BUILDER = "buildah"
    build = services.build_start(actor=Actor.for_user(world["dev"]), application=world["app"],
                                 dockerfile=world["dockerfile"], artifact=world["artifact"], tag="buildah")
    assert runner.run(build.pk) == Build.State.SUCCEEDED, Build.objects.get(pk=build.pk).error
    build.refresh_from_db()
    assert build.builder.startswith("buildah ") and build.provenance_digest
    assert skopeo_inspect(world, "acme/payments-api:buildah")["Digest"] == build.image_digest
    tokens = ApiToken.objects.filter(user=world["dev"], name=f"build acme/payments-api#{build.number}")
    assert tokens.count() == 1 and tokens.get().revoked_at is not None


def test_a_build_pushes_to_an_external_registry(world, tmp_path_factory):
    """Debian's CNCF distribution registry as the tenant's external registry (plain HTTP, no auth):
    the base image comes from the built-in registry, its layers are copied over."""
    from applications.registry.services import external_registry_create
    from tests.registry import servers

    original = servers.PORTS
    servers.PORTS = range(25500, 25600)
    try:
        with servers.distribution_registry(tmp_path_factory.mktemp("distribution")) as running:
            base_url = running[0]
            registry = external_registry_create(actor=Actor.for_system("tests"), tenant=world["app"].tenant,
                                                name="dist", url=base_url, insecure=True)
            build = services.build_start(actor=Actor.for_user(world["dev"]), application=world["app"],
                                         dockerfile=world["dockerfile"], artifact=world["artifact"], tag="ext",
                                         registry=str(registry.pk))
            assert runner.run(build.pk) == Build.State.SUCCEEDED, Build.objects.get(pk=build.pk).error
            build.refresh_from_db()
            host = base_url.split("://", 1)[1]
            result = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{host}/acme/payments-api:ext"],
                                    capture_output=True, text=True, timeout=60,
                                    env={"HOME": "/tmp", "PATH": "/usr/bin:/bin"})
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout)["Digest"] == build.image_digest
            assert build.provenance["subject"]["name"] == f"{host}/acme/payments-api"
    finally:
        servers.PORTS = original
