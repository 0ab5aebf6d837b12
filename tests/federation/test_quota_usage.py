"""Quota usage against a real simulator: what member clusters report (ResourceQuota
status.used, read by the status collection), what the deployed resources plan, and the
warning a change gets before it would exceed the quota (form, preview page, API)."""
from django.urls import reverse

from clusters.federation import quota_usage, services
from clusters.federation.models import MemberNamespace
from clusters.federation.tasks import collect_status
from tenants import services as tenant_services

from .conftest import SYSTEM, converge, deployment, wait_for


def _deploy(topology, ftypes, *, pods_quota=5, replicas=2):
    """acme/prod: a quota of `pods_quota` pods per cluster, `replicas` pods in each of the 3 clusters
    (Duplicated, the default placement)."""
    tenant_services.quota_update(actor=SYSTEM, quota=topology["prod"].quota, pods=pods_quota)
    resource = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                                  ftype=ftypes["Deployment"], name="web",
                                                  template=deployment("web", replicas=replicas))
    converge()
    return resource


def _collect_until(predicate):
    def collected():
        for cluster in ("fed-a1", "fed-a2", "fed-b1"):
            collect_status.run(__import__("clusters.models").models.Cluster.objects.get(slug=cluster).pk)
        return predicate()
    return wait_for(collected, timeout=15, message="quota usage reported")


def _bars(environment):
    return {c.cluster: {b.name: b for b in c.bars} for c in quota_usage.usage(environment)["clusters"]}


def test_usage_reported_by_clusters_and_planned_by_resources(topology, ftypes):
    _deploy(topology, ftypes, pods_quota=1, replicas=2)  # 2 wanted in each cluster, the quota admits 1
    prod = topology["prod"]
    bars = _collect_until(lambda: (b := _bars(prod)) and all(
        b[c]["pods"].used == 1 for c in ("fed-a1", "fed-a2", "fed-b1")) and b)
    pods = bars["fed-a1"]["pods"]
    assert (pods.limit, pods.used, pods.planned, pods.left, pods.level) == (1, 1, 2, 0, "danger")
    cpu = bars["fed-b1"]["cpu_millicores"]  # 10m per pod: 1 running, 2 planned
    assert (cpu.used, cpu.planned, cpu.limit) == (10, 20, 4000)
    memory = bars["fed-a2"]["memory_mib"]
    assert (memory.used, memory.planned) == (16, 32)
    member = MemberNamespace.objects.get(environment=prod, cluster__slug="fed-a1")
    assert member.quota_status["hard"]["pods"] == "1" and member.quota_observed_at is not None
    # Exclusive cores have no Kubernetes quota: one platform-level bar, planned only.
    (cpuset,) = quota_usage.usage(prod)["platform"]
    assert cpuset.used is None and cpuset.planned == 0


def test_change_that_exceeds_the_quota_is_warned_about(topology, ftypes):
    resource = _deploy(topology, ftypes, pods_quota=3, replicas=2)
    more = deployment("web", replicas=5)  # 5 per cluster where 2 run and 3 are allowed
    found = quota_usage.impact(environment=topology["prod"], template=more,
                               targets={"fed-a1": 5, "fed-a2": 5, "fed-b1": 5}, resource=resource)
    assert found["exceeds"] is True
    assert found["messages"][0] == ("This change needs 3 more pods in cluster fed-a1; 1 are left in acme/prod "
                                    "(quota 3).")
    entry = found["clusters"][0]
    assert entry["extra"]["pods"] == 3 and entry["left"]["pods"] == 1 and entry["limit"]["pods"] == 3
    # Within the quota: no warning (the resource's own pods are replaced, not counted twice).
    same = quota_usage.impact(environment=topology["prod"], template=deployment("web", replicas=3),
                              targets={"fed-a1": 3, "fed-a2": 3, "fed-b1": 3}, resource=resource)
    assert same["exceeds"] is False and same["clusters"][0]["extra"]["pods"] == 1
