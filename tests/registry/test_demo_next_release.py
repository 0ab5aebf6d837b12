"""The delivery demo's ready release (applications/demo.py): the built image tagged again as the next
version (another manifest digest, the very same layers) against the built-in registry, a revision on
it left for the demo user to release, and a second run that changes nothing."""
import pytest

from applications import demo, services
from applications.builds.models import Build
from applications.models import AppInstance, DockerfileVersion
from applications.oci import references
from applications.oci.base_images import BASE_IMAGES, seed_base_images
from applications.oci.builder import build_image
from applications.oci.client import RegistryClient
from applications.registry.auth import issue_token
from clusters.crypto import encrypt
from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone
from paas.actors import Actor
from releases.services import release_preview

from ..applications.conftest import KUBECONFIG

pytestmark = [pytest.mark.registry_server, pytest.mark.django_db(transaction=True)]


def test_demo_leaves_an_image_only_release_ready(builtin_server, acme, settings):
    base = builtin_server[0]
    settings.REGISTRY_HOST = base.split("://", 1)[1]
    system = issue_token(user=None, tenant=None, ttl=600,
                         scopes=[f"repository:platform/{spec.name}:pull,push" for spec in BASE_IMAGES])
    with RegistryClient(base, token=system) as seeder:
        list(seed_base_images(seeder, only=["jre"]))
    target = references.parse(f"{settings.REGISTRY_HOST}/acme/{demo.APP}:{demo.TAG}")
    with RegistryClient(base, username="dev", password=acme["write"]) as client:
        built = build_image(dockerfile="FROM platform/jre:17\nCOPY app.jar /app.jar\nUSER 10001\n",
                            context_files={"app.jar": demo.demo_jar()}, target=target, client=client)
    tenant, actor = acme["tenant"], Actor.for_user(acme["dev"])
    test = tenant.environments.get(slug="test")
    cell = Cell.objects.create(zone=Zone.objects.create(region=Region.objects.create(name="R", slug="r"),
                                                        name="Z", slug="z"), name="C", slug="c")
    Cluster.objects.create(cell=cell, name="k", slug="k", server="https://127.0.0.1:9", credentials=encrypt(KUBECONFIG))
    EnvironmentBinding.objects.create(environment=test, cell=cell)
    application = demo._application(actor, tenant)
    dockerfile = DockerfileVersion.objects.create(application=application, number=1, content="FROM platform/jre:17\n")
    build = Build.objects.create(tenant=tenant, application=application, number=1, dockerfile=dockerfile,
                                 repository=f"acme/{demo.APP}", tag=demo.TAG, state=Build.State.SUCCEEDED,
                                 image_digest=built.digest)
    first = services.revision_create(actor=actor, application=application, environment=test, build=build)
    # Stands in for the demo's direct apply (which would start syncing to the unreachable cluster).
    AppInstance.objects.filter(application=application, environment=test).update(baseline=first,
                                                                                state=AppInstance.State.DEPLOYED)
    said = []
    revision = demo._next_revision(actor, application, test, build, said.append)
    assert revision.number == 2 and "ready to release" in said[-1]
    with RegistryClient(base, username="dev", password=acme["write"]) as client:
        old = client.get_manifest(f"acme/{demo.APP}", demo.TAG)
        new = client.get_manifest(f"acme/{demo.APP}", demo.NEXT_TAG)
    assert new.digest != old.digest and new.data["layers"] == old.data["layers"]
    assert revision.spec["components"][0]["image"].endswith("@" + new.digest)
    plan = release_preview(actor=actor, instance=application.instances.get(environment=test), target=revision)
    assert plan["clusters"][0]["slug"] == "k" and plan["steps"]
    # A second run finds everything in place.
    said.clear()
    assert demo._next_revision(actor, application, test, build, said.append).pk == revision.pk and said == []
