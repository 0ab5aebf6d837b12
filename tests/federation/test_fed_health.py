"""Health against the simulator: pods refused by the namespace quota and crashlooping
images make the federated resource failed/degraded with the reason in words, and the
collector finds pods with one pod list and one ReplicaSet list per namespace."""

from clusters import kube
from clusters.federation import services, status
from clusters.federation.models import FederatedResource
from clusters.models import Cluster
from tenants import services as tenant_services

from .conftest import SYSTEM, converge, deployment, wait_for


def collect() -> None:
    for cluster in Cluster.objects.all():
        status.collect_status(cluster.pk)


def health_of(resource) -> dict:
    collect()
    return FederatedResource.objects.get(pk=resource.pk).status.get("health") or {}


def create(topology, ftypes, name="web", **kwargs):
    return services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                              ftype=ftypes["Deployment"], name=name,
                                              template=deployment(name, **kwargs))


def test_pods_refused_by_the_quota_make_the_resource_failed_then_degraded_then_healthy(topology, ftypes):
    tenant_services.quota_update(actor=SYSTEM, quota=topology["prod"].quota, pods=0)
    res = create(topology, ftypes, replicas=2)
    converge()
    refused = "2 of 2 pods refused by the namespace quota: exceeded quota pods=0"
    found = wait_for(lambda: (h := health_of(res)).get("state") == "failed" and refused in h["reason"] and h,
                     timeout=15, message="failed with the quota reason")
    assert found["reason"] == f"failed in fed-a1, fed-a2, fed-b1: {refused}"
    member = FederatedResource.objects.get(pk=res.pk).status["clusters"]["fed-a1"]
    assert member["health"]["state"] == "failed" and member["pods"]["total"] == 0
    assert "exceeded quota" in member["pods"]["refused"]

    # Room for one pod per cluster: one runs, one is still refused.
    tenant_services.quota_update(actor=SYSTEM, quota=topology["prod"].quota, pods=1)
    converge()
    partly = "1 of 2 pods refused by the namespace quota: exceeded quota pods=1"
    wait_for(lambda: (h := health_of(res)).get("state") == "degraded" and partly in h["reason"],
             timeout=15, message="degraded with the quota reason")

    tenant_services.quota_update(actor=SYSTEM, quota=topology["prod"].quota, pods=50)
    converge()
    healthy = wait_for(lambda: (h := health_of(res)).get("state") == "healthy" and h, timeout=15,
                       message="healthy once the quota allows every pod")
    assert healthy["reason"] == "6 of 6 replicas ready in 3 clusters"


def test_a_crashlooping_image_is_failed_with_crashloopbackoff_in_words(topology, ftypes):
    res = create(topology, ftypes, name="api", replicas=2, image="registry.local/api:1.0-crashloop")
    converge()
    reason = "CrashLoopBackOff in 2 pods (container main)"
    expected = f"failed in fed-a1, fed-a2, fed-b1: {reason}"
    # Each cluster's pods reach the back-off on their own clock: wait until all three say so.
    found = wait_for(lambda: (h := health_of(res)).get("reason") == expected and h,
                     timeout=20, message="failed with CrashLoopBackOff in every cluster")
    assert found["state"] == "failed"
    pods = FederatedResource.objects.get(pk=res.pk).status["clusters"]["fed-b1"]["pods"]
    assert pods["restarts"] >= 2 and pods["last_termination"]["reason"] == "Error"


def test_collection_costs_one_pod_and_one_replicaset_list_per_namespace(topology, ftypes):
    for name in ("web", "api", "worker"):
        create(topology, ftypes, name=name, replicas=2)
    converge()
    cluster = topology["clusters"]["fed-a1"]
    kube.api_calls.reset()
    status.collect_status(cluster.pk)
    # Deployments list + pods and ReplicaSets of the one namespace, whatever the number of pods.
    assert kube.api_calls.total() == 3
    res = FederatedResource.objects.get(name="worker")
    assert set(res.status["clusters"]["fed-a1"]) >= {"health", "pods"}
