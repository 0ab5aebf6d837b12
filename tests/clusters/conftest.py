"""Fixtures of the cluster registry tests.

- a real Kubernetes API simulator (clusters.simulator, in a background thread) with a
  few clusters, reached only through kubeconfigs, as the product reaches any cluster;
- the federation hooks replaced by recorders (the engine is tested on its own), so a
  test can assert which registry changes told it to re-plan;
- the operator persona with the platform permissions of the "Platform operators" group.
"""
import json
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from clusters import services
from clusters.federation import hooks
from clusters.simulator.server import BackgroundServer
from tests.factories import SYSTEM

SIM_NAMES = ["reg-a", "reg-b", "reg-c", "reg-down"]

#: What paas/demo.py OPERATOR_PERMISSIONS must grant for the cluster registry.
OPERATOR_CLUSTER_PERMISSIONS = [
    "view_region", "add_region", "change_region", "delete_region",
    "view_zone", "add_zone", "change_zone", "delete_zone", "mark_zone_failed",
    "view_cell", "add_cell", "change_cell", "delete_cell", "mark_cell_failed",
    "view_cluster", "add_cluster", "change_cluster", "delete_cluster", "cordon_cluster", "pause_propagation",
    "view_environmentbinding", "add_environmentbinding", "delete_environmentbinding",
    "view_platformswitch", "change_platformswitch", "stop_all_propagation",
]


@pytest.fixture(scope="session")
def kubesim(tmp_path_factory):
    server = BackgroundServer(SIM_NAMES, tmp_path_factory.mktemp("kubesim"), ready_delay=0.1,
                              nodes_per_cluster=3).start()
    yield server
    server.stop()


def kubeconfig_text(kubesim, name: str) -> str:
    return Path(kubesim.server.cluster(name).kubeconfig_path).read_text()


def sim_token(kubesim, name: str) -> str:
    return kubesim.server.cluster(name).token


def set_faults(kubesim, name: str, **faults) -> dict:
    request = urllib.request.Request(f"{kubesim.server.admin_url}/clusters/{name}/faults",
                                     data=json.dumps(faults).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # loopback admin port
        return json.loads(response.read())


class Recorder:
    def __init__(self):
        self.calls = []

    def topology_changed(self, *, actor, reason):
        self.calls.append(("topology_changed", reason, None))

    def cluster_switch_changed(self, *, actor, cluster=None):
        self.calls.append(("cluster_switch_changed", None, cluster.slug if cluster is not None else None))

    def names(self):
        return [c[0] for c in self.calls]

    def clear(self):
        self.calls.clear()


@pytest.fixture(autouse=True)
def federation(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(hooks, "topology_changed", recorder.topology_changed)
    monkeypatch.setattr(hooks, "cluster_switch_changed", recorder.cluster_switch_changed)
    return recorder


@pytest.fixture(autouse=True)
def _no_worker_broadcast(monkeypatch):
    queues = []
    monkeypatch.setattr(services, "_add_worker_queue", queues.append)
    return queues


@pytest.fixture
def personas(personas):
    personas["operator"].user_permissions.add(*Permission.objects.filter(
        content_type__app_label="clusters", codename__in=OPERATOR_CLUSTER_PERMISSIONS))
    return personas


@pytest.fixture
def topology(db):
    region = services.region_create(actor=SYSTEM, name="East", slug="east", labels={"geo": "east"})
    zone = services.zone_create(actor=SYSTEM, region=region, name="East 1", slug="east-1")
    cell = services.cell_create(actor=SYSTEM, zone=zone, name="East 1a", slug="east-1a", labels={"env-tier": "prod"})
    other = services.cell_create(actor=SYSTEM, zone=zone, name="East 1b", slug="east-1b")
    return {"region": region, "zone": zone, "cell": cell, "other_cell": other}


@pytest.fixture
def cluster(topology, kubesim):
    return services.cluster_register(actor=SYSTEM, cell=topology["cell"], name="Reg A", slug="reg-a",
                                     kubeconfig_text=kubeconfig_text(kubesim, "reg-a"), labels={"gpu": "no"})


@pytest.fixture
def bound(cluster, topology, tenant, other_tenant):
    """acme prod bound to the cluster's cell; globex dev bound to the other cell."""
    services.environment_bind(actor=SYSTEM, environment=tenant.environments.get(slug="prod"), cell=topology["cell"])
    services.environment_bind(actor=SYSTEM, environment=other_tenant.environments.get(slug="dev"),
                              cell=topology["other_cell"])
    return cluster
