"""Federation fixtures: a simulator with three member clusters, and the registry rows
(regions, zones, cells, clusters, bindings) created directly, as the cluster registry
would. Topology: cell-a (fed-a1, fed-a2) in zone z-east, cell-b (fed-b1) in zone
z-west; acme/prod is bound to both cells, acme/dev only to fed-b1.
"""
import json
import time
import urllib.request

import pytest
from django.utils import timezone
from kubernetes import client, config

from clusters.crypto import encrypt
from clusters.federation import status, sync
from clusters.federation.models import FederatedType, Handoff, Propagation
from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone
from clusters.simulator.server import BackgroundServer
from paas.actors import Actor

CLUSTERS = {"fed-a1": "cell-a", "fed-a2": "cell-a", "fed-b1": "cell-b"}
SYSTEM = Actor.for_system("tests")
MANAGED = "paas.io/managed-by=paas-federation"


@pytest.fixture(scope="session")
def fedsim(tmp_path_factory):
    server = BackgroundServer(list(CLUSTERS), tmp_path_factory.mktemp("fedsim"), ready_delay=0.05,
                              nodes_per_cluster=2).start()
    yield server
    server.stop()


def sim_admin(server, name: str, body: dict) -> dict:
    request = urllib.request.Request(f"{server.server.admin_url}/clusters/{name}/faults",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback admin port
        return json.loads(response.read())


def direct_client(server, name: str) -> client.ApiClient:
    """A plain client for assertions: what the member cluster really holds."""
    return config.new_client_from_config(config_file=str(server.server.cluster(name).kubeconfig_path))


def _cleanup(server) -> None:
    for name in CLUSTERS:
        sim_admin(server, name, {"down": False, "latency_ms": 0, "error_rate_500": 0, "error_rate_429": 0})
        api = direct_client(server, name)
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        for item in apps.list_deployment_for_all_namespaces(label_selector=MANAGED).items:
            apps.delete_namespaced_deployment(item.metadata.name, item.metadata.namespace)
        for lister, deleter in ((core.list_service_for_all_namespaces, core.delete_namespaced_service),
                                (core.list_config_map_for_all_namespaces, core.delete_namespaced_config_map),
                                (core.list_secret_for_all_namespaces, core.delete_namespaced_secret)):
            for item in lister(label_selector=MANAGED).items:
                deleter(item.metadata.name, item.metadata.namespace)
        custom = client.CustomObjectsApi(api)
        for group, version, plural in (("example.com", "v1", "widgets"), ("apps.kruise.io", "v1alpha1", "clonesets")):
            try:
                for item in custom.list_cluster_custom_object(group, version, plural, label_selector=MANAGED)["items"]:
                    custom.delete_namespaced_custom_object(group, version, item["metadata"]["namespace"],
                                                           plural, item["metadata"]["name"])
            except client.ApiException:
                pass
        api.close()


@pytest.fixture
def topology(db, fedsim, tenant):
    """Registry rows for the simulator's clusters; acme/prod bound to both cells."""
    region = Region.objects.create(name="East", slug="r-east")
    zones = {"cell-a": Zone.objects.create(region=region, name="Z east", slug="z-east"),
             "cell-b": Zone.objects.create(region=region, name="Z west", slug="z-west")}
    cells = {slug: Cell.objects.create(zone=zones[slug], name=slug, slug=slug, labels={"tier": slug[-1]})
             for slug in ("cell-a", "cell-b")}
    clusters = {}
    for name, cell in CLUSTERS.items():
        sim = fedsim.server.cluster(name)
        clusters[name] = Cluster.objects.create(
            cell=cells[cell], name=name, slug=name, server=sim.url, labels={"gpu": "yes" if name == "fed-a2" else "no"},
            credentials=encrypt(sim.kubeconfig_path.read_text()))
    prod = tenant.environments.get(slug="prod")
    dev = tenant.environments.get(slug="dev")
    for cell in cells.values():
        EnvironmentBinding.objects.create(environment=prod, cell=cell)
    EnvironmentBinding.objects.create(environment=dev, cluster=clusters["fed-b1"])
    yield {"region": region, "zones": zones, "cells": cells, "clusters": clusters, "prod": prod, "dev": dev,
           "server": fedsim}
    _cleanup(fedsim)


@pytest.fixture
def ftypes(db):
    return {t.kind: t for t in FederatedType.objects.all()}


def sync_all(clusters=None, *, now=None) -> list:
    clusters = clusters or Cluster.objects.all()
    return [sync.sync_cluster(c.pk, now=now) for c in clusters]


def converge(timeout: float = 20.0) -> None:
    """Run sync rounds (as the beat would) until no dirty row is left and no make-before-break
    move waits (status is collected, as the beat would, so the new replicas are seen ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sync_all()
        moving = Handoff.objects.exists()
        if not moving and not Propagation.objects.filter(dirty=True).exists():
            return
        if moving:
            for cluster in Cluster.objects.all():
                status.collect_status(cluster.pk)
        time.sleep(0.2)
    rows = list(Propagation.objects.filter(dirty=True).values("cluster__slug", "state", "error"))
    raise AssertionError(f"did not converge: {rows}")


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message} (last: {last!r})")


def deployment(name: str = "web", *, replicas: int = 3, image: str = "nginx:1.25") -> dict:
    resources = {"cpu": "10m", "memory": "16Mi", "ephemeral-storage": "16Mi"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                         {"name": "main", "image": image, "ports": [{"containerPort": 8080}],
                          "resources": {"requests": resources, "limits": resources}}]}}}}


def now():
    return timezone.now()
