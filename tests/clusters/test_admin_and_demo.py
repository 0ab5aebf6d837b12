"""The Django admin of the registry (writes through services, credentials write-only)
and the demo topology registration used by `make run` (idempotent)."""
import pytest
import yaml

from clusters.demo import BINDINGS, CLUSTERS, register_demo_topology
from clusters.federation.models import FederatedType
from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone
from clusters.simulator.server import BackgroundServer
from paas.actors import Actor
from paas.audit.models import AuditEvent

from .conftest import kubeconfig_text, sim_token

pytestmark = pytest.mark.django_db


def test_admin_registers_through_the_service_and_never_shows_credentials(personas, login, topology, kubesim):
    client = login(personas["operator"])
    assert client.get("/admin/clusters/cluster/").status_code == 200
    response = client.post("/admin/clusters/cluster/add/", {
        "cell": topology["cell"].pk, "name": "Reg B", "slug": "reg-b", "labels": "{}", "weight": "1",
        "kubeconfig": kubeconfig_text(kubesim, "reg-b")})
    assert response.status_code == 302, response.content[:500]
    cluster = Cluster.objects.get(slug="reg-b")
    assert AuditEvent.objects.filter(action="cluster.register", target_id=str(cluster.pk)).exists()
    page = client.get(f"/admin/clusters/cluster/{cluster.pk}/change/")
    assert page.status_code == 200 and sim_token(kubesim, "reg-b").encode() not in page.content
    assert b'name="credentials"' not in page.content


def test_admin_action_cordons_through_the_service(personas, login, cluster, federation):
    federation.clear()
    response = login(personas["operator"]).post("/admin/clusters/cluster/", {
        "action": "cluster_cordon", "_selected_action": [cluster.pk]})
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert cluster.cordoned and federation.names() == ["topology_changed"]


def test_admin_is_closed_to_tenant_members(personas, login, cluster):
    personas["owner"].is_staff = True
    personas["owner"].save()
    assert login(personas["owner"]).get("/admin/clusters/cluster/").status_code == 403


@pytest.fixture(scope="module")
def demo_sim(tmp_path_factory):
    directory = tmp_path_factory.mktemp("demo-kubesim")
    server = BackgroundServer(list(CLUSTERS), directory, ready_delay=0.1).start()
    yield server, directory
    server.stop()


def test_demo_topology_is_complete_and_idempotent(demo_sim, tenant, other_tenant):
    server, directory = demo_sim
    actor = Actor.for_system("demo")
    first = register_demo_topology(directory, actor=actor)
    assert [what for _c, what in first] == ["registered"] * 6
    assert (Region.objects.count(), Zone.objects.count(), Cell.objects.count(), Cluster.objects.count()) == (
        2, 3, 6, 6)
    assert Cluster.objects.get(slug="sim-1").labels["env-tier"] == "prod"
    # Every simulated cluster runs OpenKruise: its CloneSet is federatable, read from the first cluster.
    cloneset = FederatedType.objects.get(group="apps.kruise.io", kind="CloneSet")
    assert (cloneset.api_version, cloneset.plural, cloneset.source, cloneset.enabled) == (
        "apps.kruise.io/v1alpha1", "clonesets", "crd", True)
    assert cloneset.replicas_path == "spec.replicas" and "status.updatedReadyReplicas" in cloneset.status_fields
    count = AuditEvent.objects.count()
    second = register_demo_topology(directory, actor=actor)
    assert [what for _c, what in second] == ["unchanged"] * 6
    assert AuditEvent.objects.count() == count
    assert EnvironmentBinding.objects.count() == sum(len(cells) for cells in BINDINGS.values())
    prod_regions = set(EnvironmentBinding.objects.filter(environment__tenant=tenant, environment__slug="prod")
                       .values_list("cell__zone__region__slug", flat=True))
    assert prod_regions == {"east", "north"}
    prod_cells = set(EnvironmentBinding.objects.filter(environment__kind="prod").values_list("cell", flat=True))
    dev_cells = set(EnvironmentBinding.objects.filter(environment__kind="dev").values_list("cell", flat=True))
    assert not prod_cells & dev_cells


def test_demo_replaces_changed_credentials(demo_sim, tenant):
    server, directory = demo_sim
    actor = Actor.for_system("demo")
    register_demo_topology(directory, actor=actor)
    path = directory / "sim-2.kubeconfig"
    config = yaml.safe_load(path.read_text())
    config["preferences"] = {"changed": True}
    path.write_text(yaml.safe_dump(config))
    results = dict((c.slug, what) for c, what in register_demo_topology(directory, actor=actor))
    assert results["sim-2"] == "credentials replaced" and results["sim-1"] == "unchanged"
