"""Releases fixtures: a topology of registered clusters (unreachable on purpose: plans and services
work on stored state), the built-in registry answered by a dict (tests/applications/conftest.py),
and payments-api as a CloneSet with two revisions per environment (1.0 -> 1.1, an image-only change).

Topology: region r1 has zone z1 (cell c1: k1, k2; cell c2: k3) and zone z2 (cell c3: k4); every
acme environment is bound to all three cells.
"""
import pytest

from applications import services
from applications.builds.models import Build
from applications.models import AppInstance
from clusters.crypto import encrypt
from clusters.federation.models import FederatedType
from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone

from ..applications.conftest import KUBECONFIG, SYSTEM, fake_builtin, make_build

COMPONENT = {"name": "api", "image": "acme/payments-api:1.0", "workload_kind": "cloneset",
             "ports": [{"name": "http", "port": 8080}],
             "readiness_probe": {"type": "tcp", "port": 8080},
             "replicas": {"dev": 1, "test": 2, "pre": 2, "prod": 2}}


@pytest.fixture
def registry(monkeypatch, settings):
    fake = fake_builtin(monkeypatch, settings, "registry.test:5000")
    for tag in ("1.0", "1.1"):
        fake.push("acme/payments-api", tag)
    return fake


@pytest.fixture
def topology(tenant):
    region = Region.objects.create(name="R1", slug="r1")
    zones = {z: Zone.objects.create(region=region, name=z, slug=z) for z in ("z1", "z2")}
    cells = {c: Cell.objects.create(zone=zones[z], name=c, slug=c) for c, z in (("c1", "z1"), ("c2", "z1"),
                                                                                ("c3", "z2"))}
    clusters = {}
    for slug, cell in (("k1", "c1"), ("k2", "c1"), ("k3", "c2"), ("k4", "c3")):
        clusters[slug] = Cluster.objects.create(cell=cells[cell], name=slug, slug=slug, server="https://127.0.0.1:9",
                                                credentials=encrypt(KUBECONFIG))
    for env in tenant.environments.all():
        for cell in cells.values():
            EnvironmentBinding.objects.create(environment=env, cell=cell)
    return clusters


@pytest.fixture
def cloneset_type(db):
    return FederatedType.objects.get_or_create(
        group="apps.kruise.io", kind="CloneSet",
        defaults={"version": "v1alpha1", "plural": "clonesets", "replicas_path": "spec.replicas",
                  "source": FederatedType.Source.CRD, "status_fields": ["status.readyReplicas"]})[0]


@pytest.fixture
def app(tenant, registry, topology, cloneset_type):
    application = services.application_create(actor=SYSTEM, tenant=tenant, name="payments-api")
    services.component_create(actor=SYSTEM, application=application, data=dict(COMPONENT))
    first = make_build(application, registry.images["acme/payments-api"]["1.0"])
    # prod takes only images the platform built: 1.1 has its build (and provenance) too.
    Build.objects.create(tenant=application.tenant, application=application, number=2, dockerfile=first.dockerfile,
                         repository=application.repository, tag="1.1", state=Build.State.SUCCEEDED,
                         image_digest=registry.images["acme/payments-api"]["1.1"], provenance=first.provenance,
                         provenance_digest=first.provenance_digest)
    return application


def revisions(app, env_slug, *, image="acme/payments-api:1.1", **change):
    """(instance, baseline r1, target r2) in one environment; the baseline stands in for what an
    earlier release deployed (set on the row: pre and prod accept no direct apply)."""
    environment = app.tenant.environments.get(slug=env_slug)
    component = app.components.get()
    services.component_update(actor=SYSTEM, component=component, data={"image": COMPONENT["image"]})
    first = services.revision_create(actor=SYSTEM, application=app, environment=environment)
    services.component_update(actor=SYSTEM, component=component, data={"image": image, **change})
    second = services.revision_create(actor=SYSTEM, application=app, environment=environment)
    AppInstance.objects.filter(application=app, environment=environment).update(
        baseline=first, state=AppInstance.State.DEPLOYED)
    return AppInstance.objects.get(application=app, environment=environment), first, second


@pytest.fixture
def engine_env(transactional_db, topology, settings):
    """For the engine tests, which import the simulator's `fedsim` and `topology` fixtures from
    tests/federation/conftest.py into their modules (overriding the stored-state topology above)."""
    from .engine_support import cleanup_clonesets, needs_postgres

    needs_postgres()
    settings.RELEASE_LEASE_TTL_SECONDS = 3
    settings.RELEASE_LEASE_HEARTBEAT_SECONDS = 0.5
    settings.RELEASE_CLUSTER_CALL_TIMEOUT = (1.0, 2.0)
    pytest.fedsim_server = topology["server"]
    yield topology
    cleanup_clonesets(topology["server"])
