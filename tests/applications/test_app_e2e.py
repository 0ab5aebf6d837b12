"""End to end against the cluster simulator: a revision applied directly to acme/test becomes
federated resources owned by the instance, the Deployment, Service, ConfigMap and Secret appear in
every member cluster of the placement, status comes back aggregated on the instance page, and the
next revision replaces the old ConfigMap."""
import pytest
from kubernetes import client

from applications import services
from clusters.federation import status
from clusters.models import Cell, Cluster, EnvironmentBinding
from tests.federation.conftest import converge, direct_client, fedsim, topology, wait_for  # noqa: F401 (fixtures)

from .conftest import COMPONENT, SYSTEM, fake_builtin

pytestmark = pytest.mark.django_db
CLUSTERS = ("fed-a1", "fed-a2", "fed-b1")


@pytest.fixture
def registry(monkeypatch, settings):
    # Nothing listens there (this helper's port range): a kubelet that checks registries finds it
    # unreachable and runs the image as before.
    return fake_builtin(monkeypatch, settings, "127.0.0.1:25499")


def collect() -> None:
    for cluster in Cluster.objects.all():
        status.collect_status(cluster.pk)


def test_direct_apply_reaches_every_member_cluster_and_status_comes_back(topology, registry, tenant, personas,  # noqa: F811
                                                                          login):
    test = tenant.environments.get(slug="test")
    for cell in Cell.objects.all():
        EnvironmentBinding.objects.create(environment=test, cell=cell)
    registry.push("acme/payments-api", "1.0")
    app = services.application_create(actor=SYSTEM, tenant=tenant, name="payments-api")
    services.component_create(actor=SYSTEM, application=app, data=dict(COMPONENT))
    revision = services.revision_create(actor=SYSTEM, application=app, environment=test)
    instance = services.instance_apply_revision(actor=SYSTEM, instance=app.instances.get(environment=test),
                                                revision=revision)
    converge()

    pinned = revision.spec["components"][0]["image"]
    config_name = None
    for name in CLUSTERS:
        api = direct_client(topology["server"], name)
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        deployment = apps.read_namespaced_deployment("payments-api-api", "acme-test")
        container = deployment.spec.template.spec.containers[0]
        assert container.image == pinned and deployment.spec.replicas == 1
        assert deployment.metadata.labels["app.stratus.io/instance"] == str(instance.pk)
        assert deployment.spec.template.metadata.labels["app.stratus.io/revision"] == "1"
        service = core.read_namespaced_service("payments-api-api", "acme-test")
        assert [(p.name, p.port) for p in service.spec.ports] == [("http", 8080)]
        config_name = deployment.spec.template.spec.volumes[0].config_map.name
        config = core.read_namespaced_config_map(config_name, "acme-test")
        assert list(config.data.values()) == ["server:\n  port: 8080\n"]
        secret_ref = next(e for e in container.env if e.name == "DB_PASSWORD").value_from.secret_key_ref
        assert core.read_namespaced_secret(secret_ref.name, "acme-test").data["DB_PASSWORD"]
        api.close()

    def page_status():
        collect()
        return login(personas["developer"]).get(f"/applications/{app.pk}/instances/test/status/").content.decode()

    page = wait_for(lambda: (p := page_status()) and 'data-health="healthy"' in p and "3 / 3" in p and p,
                    timeout=20, message="the instance healthy with 3 of 3 replicas ready")
    assert "fed-a1" in page and "fed-b1" in page
    detail = login(personas["viewer"]).get(f"/applications/{app.pk}/").content.decode()
    assert 'data-health="healthy"' in detail

    # The next revision (another config file content) rolls out and the old ConfigMap goes.
    services.component_update(actor=SYSTEM, component=app.components.get(), data={
        "config_files": [{"path": "/etc/app/application.yaml", "content": "server:\n  port: 9090\n"}]})
    second = services.revision_create(actor=SYSTEM, application=app, environment=test)
    services.instance_apply_revision(actor=SYSTEM, instance=instance, revision=second)
    converge()
    core = client.CoreV1Api(direct_client(topology["server"], "fed-a2"))
    names = [c.metadata.name for c in core.list_namespaced_config_map(
        "acme-test", label_selector="app.stratus.io/application=payments-api").items]
    assert len(names) == 1 and names[0] != config_name
    apps = client.AppsV1Api(direct_client(topology["server"], "fed-a2"))
    deployment = apps.read_namespaced_deployment("payments-api-api", "acme-test")
    assert deployment.spec.template.metadata.labels["app.stratus.io/revision"] == "2"
