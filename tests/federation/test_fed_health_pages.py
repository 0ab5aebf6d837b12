"""Health on the pages and in the API: the reason in words on the list, the detail header
and per cluster; failed/degraded counters on the tenant page; ?health= on the API."""
import pytest
from django.test import Client
from rest_framework.test import APIClient

from clusters.federation import services, status
from clusters.federation.models import FederatedResource, Propagation

from .conftest import SYSTEM, deployment

QUOTA = ('pods "web-1" is forbidden: exceeded quota: paas-quota, requested: pods=1, used: pods=0, '
         'limited: pods=0')
REFUSED = "3 of 3 pods refused by the namespace quota: exceeded quota pods=0"
BASE = "/api/v1/tenants/acme/federated-resources/"


def member_status(*, ready: int, refused: bool = False) -> dict:
    """A Propagation.status as the collector stores it (collected paths + pod summary)."""
    conditions = [{"type": "Available", "status": "True" if ready else "False", "reason": "x", "message": ""}]
    pods = {"total": ready, "ready": ready, "restarts": 0, "phases": {"Running": ready} if ready else {},
            "waiting": {}, "starting": 0, "running_not_ready": 0, "terminating": 0}
    if refused:
        conditions.append({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": QUOTA})
        pods["refused"] = QUOTA
    return {"status.replicas": ready, "status.readyReplicas": ready, "status.availableReplicas": ready,
            "status.updatedReplicas": ready, "status.observedGeneration": 1, "metadata.generation": 1,
            "status.conditions": conditions, "pods": pods}


@pytest.fixture
def failing(topology, ftypes):
    """web: refused by the quota in fed-a1 and fed-a2, healthy in fed-b1; shop: healthy."""
    def make(name, refused_in):
        res = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                                 ftype=ftypes["Deployment"], name=name, template=deployment(name))
        for row in Propagation.objects.filter(resource=res).select_related("cluster"):
            bad = row.cluster.slug in refused_in
            row.state, row.dirty, row.applied_generation = "applied", False, 1
            row.status = member_status(ready=0 if bad else 3, refused=bad)
            row.save()
        status.aggregate_many([res.pk])
        return FederatedResource.objects.get(pk=res.pk)

    return {"web": make("web", {"fed-a1", "fed-a2"}), "shop": make("shop", set())}


def test_aggregation_writes_the_health_contract(failing):
    web = failing["web"]
    assert web.status["health"]["state"] == "failed"
    assert web.status["health"]["reason"] == f"failed in fed-a1, fed-a2: {REFUSED}"
    assert web.status["clusters"]["fed-a1"]["health"]["state"] == "failed"
    assert web.status["clusters"]["fed-b1"]["health"] == {
        "state": "healthy", "reason": "3 of 3 replicas ready", "why": web.status["clusters"]["fed-b1"]["health"]["why"]}
    assert failing["shop"].status["health"]["state"] == "healthy"


def test_list_and_detail_show_the_reason_in_words(personas, failing):
    client = Client()
    client.force_login(personas["viewer"])
    listing = client.get("/federation/acme/prod/").content.decode()
    assert 'data-health="failed"' in listing and f"failed in fed-a1, fed-a2: {REFUSED}" in listing
    assert 'data-health="healthy"' in listing
    detail = client.get(f"/federation/acme/prod/{failing['web'].pk}/").content.decode()
    header = detail.split('id="resource-health-reason"', 1)[1].split("</p>", 1)[0]
    assert REFUSED in header and 'data-health="failed"' in detail.split('id="resource-health-badge"', 1)[1][:200]
    # Each cluster's row says its own health in words; the quota chip is no longer green.
    table = client.get(f"/federation/acme/prod/{failing['web'].pk}/status/").content.decode()
    assert table.count(REFUSED) == 2 and "3 of 3 replicas ready" in table
    assert "bg-success-subtle text-success-emphasis me-1\" title=\"pods" not in table
    assert 'data-pods-cell="fed-a1"' in table


def test_tenant_home_counts_failed_and_degraded(personas, failing):
    client = Client()
    client.force_login(personas["viewer"])
    page = client.get("/federation/acme/").content.decode()
    counters = page.split('id="federation-health-counters"', 1)[1]
    assert '<div class="stat-value" data-count="failed">1</div>' in counters
    assert '<div class="stat-value" data-count="degraded">0</div>' in counters
    assert "1 failed" in page


def test_api_shows_health_and_filters_on_it(personas, failing):
    client = APIClient()
    client.force_authenticate(personas["viewer"])
    failed = client.get(BASE, {"health": "failed"}).json()["results"]
    assert [r["name"] for r in failed] == ["web"]
    assert failed[0]["health"] == {"state": "failed", "reason": f"failed in fed-a1, fed-a2: {REFUSED}"}
    assert [r["name"] for r in client.get(BASE, {"health": "healthy"}).json()["results"]] == ["shop"]
    assert client.get(BASE, {"health": "unknown"}).json()["results"] == []
    bad = client.get(BASE, {"health": "on-fire"})
    assert bad.status_code == 400 and "health" in bad.json()["error"]["fields"]
    detail = client.get(f"{BASE}{failing['web'].pk}/").json()
    by_cluster = {p["cluster"]: p["health"] for p in detail["propagations"]}
    assert by_cluster["fed-a1"] == {"state": "failed", "reason": REFUSED}
    assert by_cluster["fed-b1"]["state"] == "healthy"
