"""The traffic side with ``--processes 2``: it runs in the parent and learns the pods of
the clusters every child serves, through their APIs."""
import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kubernetes import client, config

from . import deployment, free_port_block, readline_within, wait_for

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["sim-1", "sim-2"]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback test server
        return json.loads(response.read())


def test_two_processes_one_traffic_server_sees_both_clusters(tmp_path):
    port = free_port_block(len(NAMES) + 2)
    traffic_port = port + len(NAMES) + 1
    process = subprocess.Popen(
        [sys.executable, "-m", "clusters.simulator", "--clusters", "2", "--processes", "2", "--port", str(port),
         "--state-dir", str(tmp_path), "--ready-delay", "0.1", "--nodes-per-cluster", "1",
         "--traffic-port", str(traffic_port), "--traffic-lag", "0.2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    try:
        deadline = time.monotonic() + 60
        lines = [readline_within(process, deadline) for _ in range(len(NAMES) + 2)]
        url = f"http://127.0.0.1:{traffic_port}"
        assert lines[-1].split()[:2] == ["traffic", url]
        assert json.loads((tmp_path / "clusters.json").read_text())["traffic_url"] == url
        for name in NAMES:
            api_client = config.new_client_from_config(config_file=str(tmp_path / f"{name}.kubeconfig"))
            body = deployment("web", replicas=1)
            body["spec"]["template"]["metadata"]["labels"]["paas.io/application"] = "shop"
            client.AppsV1Api(api_client).create_namespaced_deployment("default", body)
            client.CoreV1Api(api_client).create_namespaced_service("default", {
                "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})

        def clusters_of(path: str, key: str) -> list[str]:
            return sorted(item["cluster"] for item in _get(url + path)[key] if item.get("healthy", True))

        wait_for(lambda: clusters_of("/lb/v1/loadbalancers/default.web/backends", "backends") == NAMES,
                 message="a backend from each child's cluster")
        assert clusters_of("/registry/v1/services/shop.default/instances", "instances") == NAMES
        assert _get(url + "/traffic/v1/settings")["lb_lag_seconds"] == 0.2
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
