"""Propagation against a real simulator: overrides, placement changes, replica
division, a cluster going down and coming back, failed cells, stop switches,
namespaces with quotas, and zero calls for unchanged objects."""
import time

import pytest
from kubernetes import client

from clusters import kube
from clusters.federation import hooks, services
from clusters.federation.models import FederatedResource, Handoff, MemberNamespace, Propagation
from clusters.models import PlatformSwitch
from paas.audit.models import AuditEvent
from tenants import services as tenant_services

from .conftest import SYSTEM, converge, deployment, direct_client, sim_admin, sync_all


def apps_in(server, name):
    return client.AppsV1Api(direct_client(server, name))


def core_in(server, name):
    return client.CoreV1Api(direct_client(server, name))


def replicas_by_cluster(server, name="web"):
    out = {}
    for cluster in ("fed-a1", "fed-a2", "fed-b1"):
        try:
            out[cluster] = apps_in(server, cluster).read_namespaced_deployment(name, "acme-prod").spec.replicas
        except client.ApiException as exc:
            assert exc.status == 404
    return out


def create(topology, ftypes, **kwargs):
    kwargs.setdefault("ftype", ftypes["Deployment"])
    kwargs.setdefault("environment", topology["prod"])
    kwargs.setdefault("name", "web")
    kwargs.setdefault("template", deployment(kwargs["name"]))
    return services.federated_resource_create(actor=SYSTEM, **kwargs)


def test_propagation_with_overrides(topology, ftypes):
    overrides = [{"clusters": ["fed-a2"], "operations": [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1.27"}]},
        {"clusterSelector": {"matchLabels": {"paas.io/cell": "cell-b"}},
         "operations": [{"op": "add", "path": "/metadata/labels/canary", "value": "true"}]}]
    create(topology, ftypes, overrides=overrides)
    converge()
    server = topology["server"]
    images = {c: apps_in(server, c).read_namespaced_deployment("web", "acme-prod").spec.template.spec.containers[0].image
              for c in ("fed-a1", "fed-a2", "fed-b1")}
    assert images == {"fed-a1": "nginx:1.25", "fed-a2": "nginx:1.27", "fed-b1": "nginx:1.25"}
    b1 = apps_in(server, "fed-b1").read_namespaced_deployment("web", "acme-prod")
    assert b1.metadata.labels["canary"] == "true" and b1.metadata.labels["paas.io/managed-by"] == "paas-federation"
    assert "canary" not in apps_in(server, "fed-a1").read_namespaced_deployment("web", "acme-prod").metadata.labels
    assert any(m.manager == "paas-federation" and m.operation == "Apply" for m in b1.metadata.managed_fields)


def test_namespace_and_resource_quota_per_tenant_environment(topology, ftypes):
    create(topology, ftypes)
    converge()
    core = core_in(topology["server"], "fed-a1")
    namespace = core.read_namespace("acme-prod")
    assert namespace.metadata.labels["paas.io/tenant"] == "acme"
    assert namespace.metadata.labels["paas.io/environment"] == "prod"
    quota = core.read_namespaced_resource_quota("paas-quota", "acme-prod")
    assert quota.spec.hard["requests.cpu"] == "4000m" and quota.spec.hard["limits.memory"] == "8192Mi"
    assert quota.spec.hard["pods"] == "50" and quota.spec.hard["requests.ephemeral-storage"] == "20480Mi"
    # A quota change reaches every member cluster through the same sync, and only the quota is rewritten.
    tenant_services.quota_update(actor=SYSTEM, quota=topology["prod"].quota, cpu_millicores=6000)
    kube.api_calls.reset()
    sync_all()
    assert core.read_namespaced_resource_quota("paas-quota", "acme-prod").spec.hard["limits.cpu"] == "6000m"
    assert kube.api_calls.total() == 2 * 3  # namespace + quota in each cluster, no object rewritten
    assert MemberNamespace.objects.filter(environment=topology["prod"]).count() == 3


def test_unchanged_resync_makes_no_call_and_one_change_rewrites_one_cluster(topology, ftypes):
    res = create(topology, ftypes, overrides=[])
    converge()
    kube.api_calls.reset()
    Propagation.objects.update(dirty=True)  # e.g. a replan that changed nothing
    reports = sync_all()
    assert kube.api_calls.total() == 0
    assert sum(r.unchanged for r in reports) == 3 and sum(r.applied for r in reports) == 0
    assert not Propagation.objects.filter(dirty=True).exists()
    services.federated_resource_update(actor=SYSTEM, resource=res, overrides=[{"clusters": ["fed-b1"], "operations": [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1.26"}]}])
    converge()
    assert kube.api_calls.calls == {"fed-b1": 1}  # only the cluster whose object changed is written
    images = {c: apps_in(topology["server"], c).read_namespaced_deployment("web", "acme-prod")
              for c in ("fed-a1", "fed-b1")}
    assert images["fed-b1"].metadata.annotations["paas.io/generation"] == "2"
    assert images["fed-a1"].metadata.annotations["paas.io/generation"] == "1"
    assert set(Propagation.objects.values_list("applied_generation", flat=True)) == {2}
    kube.api_calls.reset()
    sync_all()
    assert kube.api_calls.total() == 0

def test_replica_division_and_placement_change_removes_from_leaving_cluster(topology, ftypes):
    res = create(topology, ftypes, placement={"replicaScheduling": {
        "type": "Divided", "totalReplicas": 7, "weights": {"cell-a": 2, "cell-b": 1}}})
    converge()
    assert replicas_by_cluster(topology["server"]) == {"fed-a1": 3, "fed-a2": 2, "fed-b1": 2}
    services.federated_resource_update(actor=SYSTEM, resource=res, placement={"cells": ["cell-a"]})
    # Make-before-break: fed-b1 keeps its replicas until fed-a2's extra one is ready.
    assert Propagation.objects.get(cluster__slug="fed-b1").state == "applied"
    assert Handoff.objects.get(resource=res).releases == {str(topology["clusters"]["fed-b1"].pk): None}
    converge()
    assert replicas_by_cluster(topology["server"]) == {"fed-a1": 3, "fed-a2": 3}
    assert Propagation.objects.get(cluster__slug="fed-b1").state == "removed"
    services.federated_resource_update(actor=SYSTEM, resource=res, placement={})
    converge()
    assert replicas_by_cluster(topology["server"]) == {"fed-a1": 3, "fed-a2": 3, "fed-b1": 3}


def test_delete_removes_objects_then_the_row(topology, ftypes):
    res = create(topology, ftypes)
    converge()
    services.federated_resource_delete(actor=SYSTEM, resource=res)
    assert FederatedResource.objects.get(pk=res.pk).deleting
    converge()
    assert replicas_by_cluster(topology["server"]) == {}
    assert not FederatedResource.objects.filter(pk=res.pk).exists()
    actions = list(AuditEvent.objects.filter(target_type="federation.federatedresource").order_by("id")
               .values_list("action", flat=True))
    assert actions == ["federation.resource.create", "federation.resource.delete"]


def test_cluster_down_and_back_converges_by_itself(topology, ftypes):
    server = topology["server"]
    sim_admin(server, "fed-a2", {"down": True})
    create(topology, ftypes)
    started = time.monotonic()
    sync_all()
    assert time.monotonic() - started < 10  # a dead cluster does not hold up the others
    rows = {p.cluster.slug: p for p in Propagation.objects.select_related("cluster")}
    assert rows["fed-a1"].state == rows["fed-b1"].state == "applied"
    down = rows["fed-a2"]
    assert down.state == "error" and "unreachable" in down.error and down.dirty
    assert down.attempts == 1 and down.next_attempt_at is not None
    kube.api_calls.reset()
    sync_all()  # not due yet: no call at all, even to the dead cluster
    assert kube.api_calls.total() == 0
    sim_admin(server, "fed-a2", {"down": False})
    converge(timeout=30)  # the backoff expires and the next rounds apply it; no one intervenes
    assert replicas_by_cluster(server) == {"fed-a1": 3, "fed-a2": 3, "fed-b1": 3}
    assert Propagation.objects.get(cluster__slug="fed-a2").error == ""


def test_cell_failure_replaces_replicas_and_recovers(topology, ftypes):
    create(topology, ftypes, placement={"replicaScheduling": {
        "type": "Divided", "totalReplicas": 6, "weights": {"cell-a": 1, "cell-b": 1}}})
    converge()
    assert replicas_by_cluster(topology["server"]) == {"fed-a1": 2, "fed-a2": 1, "fed-b1": 3}
    cell = topology["cells"]["cell-b"]
    cell.failed = True
    cell.save()
    hooks.topology_changed(actor=SYSTEM, reason="cell cell-b failed")
    converge()
    assert replicas_by_cluster(topology["server"]) == {"fed-a1": 3, "fed-a2": 3}
    assert AuditEvent.objects.filter(action="federation.replan").exists()
    cell.failed = False
    cell.save()
    hooks.topology_changed(actor=SYSTEM, reason="cell cell-b recovered")
    converge()
    assert replicas_by_cluster(topology["server"]) == {"fed-a1": 2, "fed-a2": 1, "fed-b1": 3}


def test_cordoned_cluster_leaves_the_placement(topology, ftypes):
    create(topology, ftypes)
    converge()
    cluster = topology["clusters"]["fed-a1"]
    cluster.cordoned = True
    cluster.save()
    hooks.topology_changed(actor=SYSTEM, reason="cordon")
    converge()
    assert set(replicas_by_cluster(topology["server"])) == {"fed-a2", "fed-b1"}


def test_global_and_per_cluster_stop_switch(topology, ftypes):
    res = create(topology, ftypes)
    converge()
    switch = PlatformSwitch.get()
    switch.propagation_paused = True
    switch.save()
    services.federated_resource_update(actor=SYSTEM, resource=res, template=deployment("web", replicas=5))
    kube.api_calls.reset()
    reports = sync_all()
    assert {r.skipped for r in reports} == {"paused"} and kube.api_calls.total() == 0
    assert Propagation.objects.filter(dirty=True).count() == 3
    switch.propagation_paused = False
    switch.save()
    cluster = topology["clusters"]["fed-b1"]
    cluster.propagation_paused = True
    cluster.save()
    hooks.cluster_switch_changed(actor=SYSTEM)
    sync_all()
    assert replicas_by_cluster(topology["server"]) == {"fed-a1": 5, "fed-a2": 5, "fed-b1": 3}
    assert Propagation.objects.get(cluster=cluster).dirty
    cluster.propagation_paused = False
    cluster.save()
    hooks.cluster_switch_changed(actor=SYSTEM, cluster=cluster)
    converge()
    assert replicas_by_cluster(topology["server"]) == {"fed-a1": 5, "fed-a2": 5, "fed-b1": 5}


def test_server_errors_are_recorded_and_retried(topology, ftypes):
    sim_admin(topology["server"], "fed-b1", {"error_rate_500": 1.0})
    create(topology, ftypes)
    sync_all()
    row = Propagation.objects.get(cluster__slug="fed-b1")
    assert row.state == "error" and "500 Internal Server Error" in row.error and row.attempts == 1
    sim_admin(topology["server"], "fed-b1", {"error_rate_500": 0})
    converge(timeout=30)
    assert Propagation.objects.get(cluster__slug="fed-b1").state == "applied"


def test_saving_the_same_thing_changes_and_records_nothing(topology, ftypes):
    res = create(topology, ftypes)
    converge()
    before = AuditEvent.objects.count()
    same = services.federated_resource_update(actor=SYSTEM, resource=res, template=deployment("web"),
                                              placement={}, overrides=[])
    assert same.generation == 1 and AuditEvent.objects.count() == before
    assert not Propagation.objects.filter(dirty=True).exists()
    # Scaling changes the object in every cluster; a template label change too.
    services.federated_resource_update(actor=SYSTEM, resource=res, template=deployment("web", replicas=4))
    assert Propagation.objects.filter(dirty=True).count() == 3
    assert AuditEvent.objects.filter(action="federation.resource.update").count() == 1


def test_environment_with_federated_resources_cannot_be_deleted(topology, ftypes):
    from paas.errors import Conflict
    from tenants.services import environment_delete

    create(topology, ftypes)
    with pytest.raises(Conflict, match="still has federated resources"):
        environment_delete(actor=SYSTEM, environment=topology["prod"])
    assert topology["prod"].federated_resources.exists()
