"""Smoke tests through the real tools: kubectl, and the ``manage.py kubesim`` command."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client, config

from . import (  # noqa: F401
    api_client_fixture,
    apps_fixture,
    core_fixture,
    free_port_block,
    kubesim_fixture,
    namespace_fixture,
    readline_within,
    wait_for,
)

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
ROOT = Path(__file__).resolve().parents[2]

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop, labels: {app: shop}}
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers: [{name: web, image: "shop:IMAGE", ports: [{containerPort: 80}]}]
"""

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: carts.shop.example.com}
spec:
  group: shop.example.com
  scope: Namespaced
  names: {plural: carts, singular: cart, kind: Cart}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    additionalPrinterColumns: [{name: Items, type: integer, jsonPath: .spec.items}]
---
apiVersion: shop.example.com/v1
kind: Cart
metadata: {name: cart-1}
spec: {items: 3}
"""


@pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed")
def test_kubectl_smoke(kubesim, namespace, tmp_path):
    kubeconfig = str(kubesim.server.cluster("sim-a").kubeconfig_path)

    def kubectl(*args, check=True):
        result = subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, "--cache-dir", str(tmp_path / "cache"),
                                 "-n", namespace, *args], capture_output=True, text=True, timeout=60)
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(DEPLOYMENT.replace("IMAGE", "1.0"))
    assert "Ready" in kubectl("get", "nodes")
    assert "deployment.apps/shop created" in kubectl("apply", "-f", str(manifest))
    assert "successfully rolled out" in kubectl("rollout", "status", "deployment/shop", "--timeout=30s")
    manifest.write_text(DEPLOYMENT.replace("IMAGE", "2.0"))
    assert "configured" in kubectl("apply", "-f", str(manifest))  # client-side apply: GET + strategic PATCH
    assert "successfully rolled out" in kubectl("rollout", "status", "deployment/shop", "--timeout=30s")
    pods = kubectl("get", "pods", "-A", "-l", "app=shop")
    assert pods.splitlines()[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pods.count("Running") == 2
    as_yaml = kubectl("get", "deploy", "-o", "yaml")
    assert "image: shop:2.0" in as_yaml and "kubectl.kubernetes.io/last-applied-configuration" in as_yaml
    assert "serverside-applied" in kubectl("apply", "--server-side", "--force-conflicts", "-f", str(manifest))
    assert "deployments" in kubectl("api-resources")

    watcher = subprocess.Popen([KUBECTL, "--kubeconfig", kubeconfig, "--cache-dir", str(tmp_path / "cache"),
                                "-n", namespace, "get", "pods", "--watch", "-l", "app=shop",
                                "--request-timeout=20s"],  # ends the watch even if a line never comes
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        header = watcher.stdout.readline()
        assert header.split()[:2] == ["NAME", "READY"]
        assert "shop-" in watcher.stdout.readline()
    finally:
        watcher.terminate()
        watcher.wait(10)

    crd = tmp_path / "crd.yaml"
    crd.write_text(CRD)
    created = kubectl("create", "-f", str(crd))
    assert "customresourcedefinition.apiextensions.k8s.io/carts.shop.example.com created" in created
    assert "cart.shop.example.com/cart-1 created" in created
    carts = kubectl("get", "carts")
    assert carts.splitlines()[0].split() == ["NAME", "ITEMS", "AGE"] and "cart-1" in carts
    assert 'deployment.apps "shop" deleted' in kubectl("delete", "deployment", "shop")
    assert "shop" not in kubectl("get", "deploy")
    kubectl("delete", "-f", str(crd), "--ignore-not-found")


def test_management_command_runs_clusters_until_sigterm(tmp_path):
    port = free_port_block(3)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "kubesim", "--clusters", "2", "--port", str(port), "--state-dir", str(tmp_path),
         "--ready-delay", "0.1", "--nodes-per-cluster", "1"],
        # Unbuffered bytes: select() then sees exactly what readline() has not consumed yet.
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    try:
        lines = [readline_within(process, deadline=time.monotonic() + 60) for _ in range(3)]
        assert lines[0].split() == ["sim-1", f"https://127.0.0.1:{port}", str(tmp_path / "sim-1.kubeconfig")]
        assert lines[1].split()[:2] == ["sim-2", f"https://127.0.0.1:{port + 1}"]
        assert lines[2].startswith(f"admin  http://127.0.0.1:{port + 2}")
        api = client.CoreV1Api(config.new_client_from_config(config_file=str(tmp_path / "sim-2.kubeconfig")))
        assert [n.metadata.name for n in api.list_node().items] == ["sim-2-node-1"]
    finally:
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = process.wait(20)
    assert code == 0, process.stderr.read().decode()
    assert time.monotonic() - started < 20


TWO_CONTAINERS = """
apiVersion: v1
kind: Pod
metadata: {name: duo}
spec:
  containers:
  - {name: main, image: "shop:7.0"}
  - {name: side, image: "nginx:1.25"}
"""


@pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed")
def test_kubectl_events_describe_and_logs(kubesim, namespace, tmp_path):
    kubeconfig = str(kubesim.server.cluster("sim-a").kubeconfig_path)
    base = [KUBECTL, "--kubeconfig", kubeconfig, "--cache-dir", str(tmp_path / "cache"), "-n", namespace]

    def kubectl(*args):
        result = subprocess.run([*base, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"kubectl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    manifest = tmp_path / "duo.yaml"
    manifest.write_text(TWO_CONTAINERS)
    kubectl("apply", "-f", str(manifest))
    (tmp_path / "deployment.yaml").write_text(DEPLOYMENT.replace("IMAGE", "1.0"))
    kubectl("apply", "-f", str(tmp_path / "deployment.yaml"))
    kubectl("wait", "--for=condition=Ready", "pod/duo", "--timeout=30s")
    kubectl("rollout", "status", "deployment/shop", "--timeout=30s")

    events = kubectl("get", "events")
    assert events.splitlines()[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert re.search(r"Normal\s+ScalingReplicaSet\s+deployment/shop\s+Scaled up replica set shop-\w+ from 0 to 2",
                     events)
    assert re.search(r"Normal\s+SuccessfulCreate\s+replicaset/shop-\w+\s+Created pod: shop-", events)
    only_duo = kubectl("get", "events", "--field-selector", "involvedObject.name=duo").splitlines()[1:]
    assert only_duo and all(" pod/duo " in line for line in only_duo)
    assert {"Scheduled", "Pulled", "Created", "Started"} <= {line.split()[2] for line in only_duo}

    described = kubectl("describe", "pod", "duo")
    section = described[described.index("\nEvents:"):]
    assert re.search(rf"Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned {namespace}/duo to ",
                     section)
    assert re.search(r"Normal\s+Started\s+\S+\s+kubelet\s+Started container side", section)
    deployment_events = kubectl("describe", "deployment", "shop")
    assert re.search(r"Events:\n.*\n.*\n\s+Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up",
                     deployment_events)

    tail = kubectl("logs", "duo", "-c", "main", "--tail=5", "--timestamps").splitlines()
    assert len(tail) == 5 and all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ", line) for line in tail)
    assert "[notice] 1#1: nginx/1.25" in kubectl("logs", "duo", "-c", "side")
    assert "starting shop version=7.0" in kubectl("logs", "duo")  # kubectl defaults to the first container

    follower = subprocess.Popen([*base, "logs", "-f", "--tail=1", "duo", "-c", "main"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    try:
        lines = [readline_within(follower, deadline=time.monotonic() + 20) for _ in range(4)]
        assert all(" request method=" in line for line in lines) and len(set(lines)) == 4
        assert follower.poll() is None, "kubectl logs -f keeps streaming"
    finally:
        follower.kill()
        follower.wait(10)
