"""The DR drill's confirmation in the browser: an operator clicks "Mark failed" on a cell
and the confirmation shows the impact first (what moves where, make-before-break,
the quota during the surge) before anything changes; a developer asks for a binding
from the binding requests page."""
import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from clusters.crypto import encrypt
from clusters.federation.models import FederatedResource, FederatedType, Propagation
from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
SHOTS = Path(os.environ.get("PAAS_DR_SHOTS", "/tmp/shots9/dr"))


def deployment_type() -> FederatedType:
    # transactional_db empties the table the data migration seeded: bring the one type back.
    return FederatedType.objects.get_or_create(group="apps", kind="Deployment", defaults={
        "version": "v1", "plural": "deployments", "replicas_path": "spec.replicas",
        "status_fields": ["status.readyReplicas"]})[0]


@pytest.fixture
def placed(personas_e2e, tenant):
    """cell-a (fed-a1, fed-a2) and cell-b (fed-b1); acme/prod runs web, 3 replicas on each."""
    region = Region.objects.create(name="East", slug="r-east")
    clusters = {}
    for cell_slug, names in (("cell-a", ["fed-a1", "fed-a2"]), ("cell-b", ["fed-b1"])):
        zone = Zone.objects.create(region=region, name=f"Zone {cell_slug}", slug=f"z-{cell_slug}")
        cell = Cell.objects.create(zone=zone, name=cell_slug, slug=cell_slug)
        for name in names:
            clusters[name] = Cluster.objects.create(cell=cell, name=name, slug=name, server=f"https://{name}:6443",
                                                    credentials=encrypt("x"), health="healthy", node_count=2,
                                                    pod_count=10)
        EnvironmentBinding.objects.create(environment=tenant.environments.get(slug="prod"), cell=cell)
    prod = tenant.environments.get(slug="prod")
    quota = prod.quota
    quota.pods = 5
    quota.save()
    resource = FederatedResource.objects.create(
        tenant=tenant, environment=prod, ftype=deployment_type(), name="web",
        template={"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 3, "template": {"spec": {"containers": [
                      {"name": "main", "image": "nginx", "resources": {"requests": {"cpu": "100m"}}}]}}}},
        placement={"replicaScheduling": {"type": "Divided", "totalReplicas": 9}})
    for cluster in clusters.values():
        Propagation.objects.create(resource=resource, cluster=cluster, planned_replicas=3, state="applied",
                                   dirty=False, status={"status.readyReplicas": 3})
    operator = personas_e2e["operator"]
    operator.user_permissions.add(*Permission.objects.filter(content_type__app_label="clusters"))
    return resource


def test_mark_failed_confirmation_shows_the_impact(b, placed, personas_e2e):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = b.new_page(personas_e2e["operator"])
    b.goto(page, "/clusters/-/cells/cell-a/")
    page.get_by_role("button", name="Mark failed").click()
    modal = page.locator("#confirmModal")
    expect(modal).to_be_visible()
    impact = modal.locator(".drill-impact")
    expect(impact).to_contain_text("Deployment/web")
    expect(impact).to_contain_text("make-before-break")
    expect(impact.locator("[data-move]")).to_contain_text("fed-b1 3 → 9")
    expect(impact).to_contain_text("needs 9 pods, the quota allows 5")
    b.check(page)
    page.screenshot(path=str(SHOTS / "cell-mark-failed-impact-en.png"), full_page=True)
    modal.get_by_role("button", name="Cancel").click()
    assert not Cell.objects.get(slug="cell-a").failed  # looking changes nothing

    b.goto(page, "/clusters/-/cells/cell-a/fail/")  # the page without JavaScript's modal
    expect(page.locator(".drill-impact")).to_contain_text("fed-a1 3 → 0")
    page.screenshot(path=str(SHOTS / "cell-mark-failed-confirm-page-en.png"), full_page=True)
    page.locator(".portal-topbar button[title='Language']").click()
    page.locator(".portal-topbar button[name=language][value=zh-hans]").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    b.goto(page, "/clusters/-/cells/cell-a/")
    page.locator("form[data-confirm-preview] button[type=submit]").click()
    expect(page.locator("#confirmModal .drill-impact [data-move]")).to_be_visible()
    page.screenshot(path=str(SHOTS / "cell-mark-failed-impact-zh.png"), full_page=True)


def test_developer_requests_a_binding_and_the_operator_sees_it(b, placed, personas_e2e):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = b.new_page(personas_e2e["developer"])
    b.goto(page, "/clusters/-/binding-requests/new/")
    page.select_option("#id_environment", label="Acme Payments / dev")
    page.select_option("#id_target", value="cell:cell-b")
    page.fill("#id_reason", "Load tests next to production")
    page.screenshot(path=str(SHOTS / "binding-request-form-en.png"), full_page=True)
    page.get_by_role("button", name="Send request").click()
    b.check(page)
    expect(page.locator(".portal-messages .alert-success")).to_contain_text("Request sent")
    operator = b.new_page(personas_e2e["operator"])
    b.goto(operator, "/clusters/-/binding-requests/")
    expect(operator.locator("tbody")).to_contain_text("Load tests next to production")
    operator.screenshot(path=str(SHOTS / "binding-requests-queue-en.png"), full_page=True)
    operator.get_by_role("button", name="Approve").click()
    b.check(operator)
    expect(operator.locator(".portal-messages .alert-success")).to_contain_text("approved")
    assert EnvironmentBinding.objects.filter(environment__slug="dev", cell__slug="cell-b").exists()
