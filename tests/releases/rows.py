"""Release rows for tests outside tests/releases (the API matrix and contract): application
"ledger" with revisions 1 and 2 (an image-only change of a CloneSet) in dev and test, each
instance on revision 1 (written as rows: stands in for an earlier deployment), a cluster bound
to both environments, a PLANNED release in dev and a traffic provider of the dev instance."""
from paas.actors import Actor

SPEC = {"components": [{"name": "api", "workload_kind": "cloneset", "ports": [{"name": "http", "port": 8080,
                                                                              "protocol": "TCP"}],
                        "replicas": {"dev": 2, "test": 2, "pre": 2, "prod": 2}}]}


def _spec(tag: str) -> dict:
    component = {**SPEC["components"][0], "image": f"registry.test:5000/acme/ledger@sha256:{tag * 64}"}
    return {"components": [component]}


def release_rows(tenant, owner):
    from applications.models import AppInstance, Application, AppRevision
    from clusters.crypto import encrypt
    from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone
    from releases.services import release_create, traffic_provider_create

    from ..applications.conftest import KUBECONFIG

    region = Region.objects.create(name="Rel", slug="rel-r")
    zone = Zone.objects.create(region=region, name="Rel z", slug="rel-z")
    cell = Cell.objects.create(zone=zone, name="Rel c", slug="rel-c")
    cluster = Cluster.objects.create(cell=cell, name="rel-k", slug="rel-k", server="https://127.0.0.1:9",
                                     credentials=encrypt(KUBECONFIG))
    application = Application.objects.create(tenant=tenant, name="ledger")
    instances = {}
    for slug in ("dev", "test"):
        environment = tenant.environments.get(slug=slug)
        EnvironmentBinding.objects.create(environment=environment, cluster=cluster)
        first = AppRevision(application=application, environment=environment, number=1, spec=_spec("a"),
                            spec_hash="a" * 64)
        first.save()
        AppRevision(application=application, environment=environment, number=2, spec=_spec("b"),
                    spec_hash="b" * 64).save()
        instances[slug] = AppInstance.objects.create(application=application, environment=environment,
                                                     baseline=first, state=AppInstance.State.DEPLOYED)
    actor = Actor.for_user(owner) if owner is not None else Actor.for_system("tests")
    dev = instances["dev"]
    release = release_create(actor=actor, instance=dev, target=application.revisions.get(environment=dev.environment,
                                                                                         number=2))
    provider = traffic_provider_create(actor=actor, instance=dev, kind="load_balancer", name="slb",
                                       url="http://127.0.0.1:9/lb/v1", config={"loadbalancer": "acme-dev.ledger-api"})
    return {"release": release, "release_app": application, "provider": provider}
