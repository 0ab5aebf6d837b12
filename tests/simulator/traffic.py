"""Shared helpers of the traffic simulator tests: one simulator with two clusters and the
traffic server on an ephemeral port, driven through the official client (the clusters)
and plain HTTP (the traffic API)."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from kubernetes import client, config

from clusters.simulator.server import BackgroundServer

from . import deployment, wait_for

CLUSTERS = ["tr-a", "tr-b"]
READY_DELAY = 0.3


# Lags long enough that a busy CI machine still observes "not yet" before "now", short
# enough to keep the tests quick.
@pytest.fixture(name="trafficsim", scope="module")
def trafficsim_fixture(tmp_path_factory):
    server = BackgroundServer(CLUSTERS, tmp_path_factory.mktemp("trafficsim"), ready_delay=READY_DELAY,
                              nodes_per_cluster=2, traffic_port=0, traffic_lag=1.0, traffic_heartbeat=1.5).start()
    yield server
    server.stop()


def call(server: BackgroundServer, method: str, path: str, body=None, *, raw: bytes | None = None,
         content_type: str = "application/json") -> tuple[int, dict]:
    """(status, JSON body) of one request to the traffic API; 4xx answers are returned, not raised."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(server.server.traffic.url + path, data=data, method=method,
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback test server
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def get(server, path: str) -> dict:
    status, body = call(server, "GET", path)
    assert status == 200, body
    return body


def query(server, promql: str) -> tuple[int, dict]:
    return call(server, "GET", "/prometheus/api/v1/query?" + urllib.parse.urlencode({"query": promql}))


def apis(server: BackgroundServer, name: str) -> tuple[client.CoreV1Api, client.AppsV1Api]:
    api_client = config.new_client_from_config(config_file=str(server.server.cluster(name).kubeconfig_path))
    return client.CoreV1Api(api_client), client.AppsV1Api(api_client)


def deploy_app(server, cluster: str, namespace: str, *, app: str = "shop", name: str = "web", replicas: int = 2,
               image: str = "shop:v1") -> None:
    """A namespace, a Deployment whose pods carry paas.io/application and a Service in front; returns once
    every pod is Ready."""
    core, apps = apis(server, cluster)
    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    body = deployment(name, image=image, replicas=replicas, labels={"app": name})
    body["spec"]["template"]["metadata"]["labels"]["paas.io/application"] = app
    apps.create_namespaced_deployment(namespace, body)
    core.create_namespaced_service(namespace, {
        "metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": "http"}]}})
    wait_for(lambda: len(ready_pods(core, namespace, f"app={name}")) == replicas, message="pods ready")


def ready_pods(core: client.CoreV1Api, namespace: str, selector: str) -> list:
    return [p for p in core.list_namespaced_pod(namespace, label_selector=selector).items
            if p.metadata.deletion_timestamp is None
            and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))]


def fresh_namespace() -> str:
    return f"tr-{uuid.uuid4().hex[:8]}"


def set_image(server, cluster: str, namespace: str, pod: str, image: str) -> None:
    """Change a pod's image in place: the kubelet restarts its container, so the pod is
    not Ready for the ready delay and then Ready again (same name, IP and UID)."""
    core, _ = apis(server, cluster)
    core.patch_namespaced_pod(pod, namespace, {"spec": {"containers": [{"name": "main", "image": image}]}})
