"""An application instance's page follows its objects live: a revision applied directly to
acme/test shows "Syncing", then, once the member clusters run it and status is collected,
"Healthy" with 3 / 3 replicas ready, without a reload (static/js/live.js)."""
import importlib

import pytest
from django.apps import apps
from playwright.sync_api import expect

from applications import images, services
from clusters.federation import status
from clusters.models import Cell, Cluster, EnvironmentBinding
from paas.actors import Actor
from tests.applications.conftest import COMPONENT, FakeRegistry
from tests.federation.conftest import converge, fedsim, topology, wait_for  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
EVENT_WAIT = 20_000


@pytest.fixture
def applied(transactional_db, topology, tenant, personas_e2e, monkeypatch, settings):  # noqa: F811
    importlib.import_module("clusters.federation.migrations.0002_builtin_types").seed(apps, None)
    settings.REGISTRY_HOST = "127.0.0.1:25499"  # nothing listens: kubelets run the image as before
    registry = FakeRegistry()
    monkeypatch.setattr(images, "builtin_digest", registry.lookup)
    registry.push("acme/payments-api", "1.0")
    test = tenant.environments.get(slug="test")
    for cell in Cell.objects.all():
        EnvironmentBinding.objects.create(environment=test, cell=cell)
    actor = Actor.for_user(personas_e2e["developer"])
    app = services.application_create(actor=actor, tenant=tenant, name="payments-api")
    services.component_create(actor=actor, application=app, data=dict(COMPONENT))
    revision = services.revision_create(actor=actor, application=app, environment=test)
    services.instance_apply_revision(actor=actor, instance=app.instances.get(environment=test), revision=revision)
    return app


def test_instance_page_turns_healthy_without_a_reload(b, personas_e2e, applied):
    page = b.new_page(personas_e2e["viewer"])
    b.goto(page, f"/applications/{applied.pk}/instances/test/")
    b.socket_frames(page)
    health = page.locator("#instance-health")
    expect(page.locator("#instance-status")).to_contain_text("payments-api-api")

    converge()

    def collected():
        for cluster in Cluster.objects.all():
            status.collect_status(cluster.pk)
        status.aggregate_pending()
        workload = applied.instances.get().resource_links.get(role="workload").resource
        return (workload.status.get("health") or {}).get("state") == "healthy"

    wait_for(collected, timeout=20, message="the workload healthy in the database")
    expect(health).to_contain_text("Healthy", timeout=EVENT_WAIT)
    expect(page.locator("#instance-status [data-testid=ready]").first).to_have_text("3 / 3")
    assert page.url.endswith("/instances/test/")
    b.check(page)
