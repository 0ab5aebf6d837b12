"""Tests of the Kubernetes API simulator, driven only through the official client (and
kubectl for a smoke test), the way the product talks to clusters.

Shared fixtures live here; test modules import them (as ``*_fixture``, registered under
their short names) because this package keeps no conftest of its own: one simulator per
test worker,
running in a background thread with two clusters, a short pod ready-delay, and
helpers to wait for conditions with a timeout instead of sleeping.
"""
from __future__ import annotations

import json
import select
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest
from kubernetes import client, config

from clusters.simulator.server import BackgroundServer

READY_DELAY = 0.1


@pytest.fixture(name="kubesim", scope="session")
def kubesim_fixture(tmp_path_factory):
    """Clusters "sim-a" (general tests) and "sim-faults" (fault injection only)."""
    server = BackgroundServer(["sim-a", "sim-faults"], tmp_path_factory.mktemp("kubesim"),
                              ready_delay=READY_DELAY, nodes_per_cluster=3).start()
    yield server
    server.stop()


def api_client_for(server: BackgroundServer, name: str) -> client.ApiClient:
    cluster = server.server.cluster(name)
    return config.new_client_from_config(config_file=str(cluster.kubeconfig_path))


@pytest.fixture(name="api_client", scope="session")
def api_client_fixture(kubesim) -> client.ApiClient:
    return api_client_for(kubesim, "sim-a")


@pytest.fixture(name="core", scope="session")
def core_fixture(api_client) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture(name="apps", scope="session")
def apps_fixture(api_client) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture(name="namespace")
def namespace_fixture(core):
    """A fresh namespace per test, so tests sharing a cluster never see each other's objects."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    try:
        core.delete_namespace(name)
    except client.ApiException:
        pass


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02, message: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message} (last value: {last!r})")


def admin(server: BackgroundServer, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.server.admin_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback admin port
        return json.loads(response.read())


def deployment(name: str, image: str = "nginx:1.25", replicas: int = 2, labels: dict | None = None,
               strategy: dict | None = None, resources: dict | None = None) -> dict:
    labels = labels or {"app": name}
    container = {"name": "main", "image": image, "ports": [{"containerPort": 8080, "name": "http"}]}
    if resources:
        container["resources"] = resources
    spec = {"replicas": replicas, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}
    if strategy:
        spec["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def pod_is_ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def ready_pods(core: client.CoreV1Api, namespace: str, selector: str) -> list:
    return [p for p in core.list_namespaced_pod(namespace, label_selector=selector).items if pod_is_ready(p)]


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free loopback ports (for a simulator on fixed ports)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port block")


def readline_within(process: subprocess.Popen, deadline: float) -> str:
    """The next stdout line, failing instead of hanging if the command never prints it."""
    ready, _, _ = select.select([process.stdout], [], [], max(deadline - time.monotonic(), 0))
    assert ready, "kubesim printed nothing in time"
    return process.stdout.readline().decode().strip()
