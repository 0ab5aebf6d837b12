"""Health in the browser: a federated Deployment whose pods the namespace quota refuses
shows a red "Failed" badge with the reason in words on its detail page (header and per
cluster) and in the environment's list, and the tenant page counts it."""
import pytest
from playwright.sync_api import expect

from clusters.crypto import encrypt
from clusters.federation import status
from clusters.federation.models import FederatedResource, FederatedType, Propagation
from clusters.models import Cell, Cluster, Region, Zone

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

QUOTA = ('pods "web-1" is forbidden: exceeded quota: paas-quota, requested: pods=1, used: pods=0, '
         'limited: pods=0')
REFUSED = "3 of 3 pods refused by the namespace quota: exceeded quota pods=0"


def _member(ready: int) -> dict:
    """A member's status as the collector stores it: collected paths and the pod summary."""
    pods = {"total": ready, "ready": ready, "restarts": 0, "phases": {"Running": ready} if ready else {},
            "waiting": {}, "starting": 0, "running_not_ready": 0, "terminating": 0}
    conditions = [{"type": "Available", "status": "True" if ready else "False", "reason": "", "message": ""}]
    if not ready:
        conditions.append({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": QUOTA})
        pods["refused"] = QUOTA
    return {"status.replicas": ready, "status.readyReplicas": ready, "status.availableReplicas": ready,
            "status.updatedReplicas": ready, "status.observedGeneration": 1, "metadata.generation": 1,
            "status.conditions": conditions, "pods": pods}


@pytest.fixture
def refused(tenant):
    """Deployment "web" in acme/prod on three clusters: refused by the quota in two of them."""
    zone = Zone.objects.create(region=Region.objects.create(name="East", slug="r-east"), name="Z", slug="z-east")
    cell = Cell.objects.create(zone=zone, name="cell-a", slug="cell-a")
    prod = tenant.environments.get(slug="prod")
    ftype = FederatedType.objects.get(group="apps", kind="Deployment")
    template = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "main", "image": "nginx"}]}}}}
    resource = FederatedResource.objects.create(tenant=tenant, environment=prod, ftype=ftype, name="web",
                                                template=template)
    for slug, ready in (("fed-a1", 0), ("fed-a2", 0), ("fed-b1", 3)):
        cluster = Cluster.objects.create(cell=cell, name=slug, slug=slug, server="https://127.0.0.1:9",
                                         credentials=encrypt("{}"))
        Propagation.objects.create(resource=resource, cluster=cluster, state="applied", dirty=False,
                                   planned_replicas=3, applied_generation=1, status=_member(ready))
    status.aggregate_many([resource.pk])
    return FederatedResource.objects.get(pk=resource.pk)


def test_a_failing_resource_shows_a_red_badge_with_the_reason_in_words(b, personas_e2e, refused):
    page = b.new_page(personas_e2e["viewer"])
    b.goto(page, f"/federation/acme/prod/{refused.pk}/")
    badge = page.locator("#resource-health-badge .badge")
    expect(badge).to_have_text("Failed")
    expect(badge).to_have_class("badge rounded-pill bg-danger text-white border border-danger")
    colour = badge.evaluate("el => getComputedStyle(el).backgroundColor")
    red, green, blue = (int(x) for x in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3])
    assert red > 150 and green < 90 and blue < 90, f"the failed badge is not red: {colour}"
    expect(page.locator("#resource-health-reason")).to_have_text(f"failed in fed-a1, fed-a2: {REFUSED}")
    expect(page.locator("#resource-health-reason")).to_be_visible()
    # Per cluster: each row's health in words, and the drill-down's spot for its pods.
    row = page.locator("#federation-status tbody tr", has=page.locator("code", has_text="fed-a1"))
    expect(row.locator("[data-health=failed] .health-reason")).to_have_text(REFUSED)
    expect(row.locator("[data-pods-cell=fed-a1]")).to_contain_text("0/0 ready")
    healthy = page.locator("#federation-status tbody tr", has=page.locator("code", has_text="fed-b1"))
    expect(healthy.locator("[data-health=healthy]")).to_contain_text("3 of 3 replicas ready")
    b.screenshots("health-detail-en")

    b.goto(page, "/federation/acme/prod/")
    listed = page.locator("tbody tr", has=page.get_by_role("link", name="web"))
    expect(listed.locator("[data-health=failed] .badge")).to_have_text("Failed")
    expect(listed.locator(".health-reason")).to_contain_text(REFUSED)
    b.screenshots("health-list-en")
    b.goto(page, "/federation/acme/")
    expect(page.locator("[data-count=failed]")).to_have_text("1")
    b.screenshots("health-tenant-en")

    # The same page in Simplified Chinese: the badge word comes from the translations.
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": b.url("/")}])
    b.goto(page, f"/federation/acme/prod/{refused.pk}/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#resource-health-badge .badge")).to_have_text("失败")
    b.screenshots("health-detail-zh")
    assert not b.problems, b.problems
