"""``--processes``: clusters spread over child processes behind one admin port.

Each test runs a real simulator command in a subprocess and talks to it only through
what callers see: its stdout lines, kubeconfigs, clusters.json, the admin port, the
official client and kubectl."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import urllib3
import yaml
from kubernetes import client, config

from . import free_port_block, readline_within, wait_for

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
ROOT = Path(__file__).resolve().parents[2]
NAMES = ["sim-1", "sim-2", "sim-3", "sim-4"]


def _start(state: Path, port: int, *, manage: bool = False) -> tuple[subprocess.Popen, list[str]]:
    """4 clusters over 2 processes; returns the process and its summary lines once it serves."""
    command = [sys.executable, "manage.py", "kubesim"] if manage else [sys.executable, "-m", "clusters.simulator"]
    process = subprocess.Popen(
        [*command, "--clusters", "4", "--processes", "2", "--port", str(port), "--state-dir", str(state),
         "--ready-delay", "0.1", "--nodes-per-cluster", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    deadline = time.monotonic() + 60
    return process, [readline_within(process, deadline) for _ in range(len(NAMES) + 1)]


def _admin(port: int, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback admin port
        return json.loads(response.read())


def _core(state: Path, name: str) -> client.CoreV1Api:
    api_client = config.new_client_from_config(config_file=str(state / f"{name}.kubeconfig"))
    api_client.configuration.retries = False
    api_client.rest_client.pool_manager.connection_pool_kw["retries"] = False
    return client.CoreV1Api(api_client)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is gone for our purposes
    except (ProcessLookupError, FileNotFoundError):
        return False


def _child_pids(admin_port: int) -> dict[str, int]:
    return {name: _admin(admin_port, "GET", f"/clusters/{name}/stats")["pid"] for name in NAMES}


def _stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(30)


def test_two_processes_serve_four_clusters_behind_one_admin_port(tmp_path):
    port = free_port_block(len(NAMES) + 1)
    admin_port = port + len(NAMES)
    process, lines = _start(tmp_path, port)
    try:
        # The same summary as one process prints: one line per cluster on its usual port, then admin.
        for i, name in enumerate(NAMES):
            assert lines[i].split() == [name, f"https://127.0.0.1:{port + i}", str(tmp_path / f"{name}.kubeconfig")]
        assert lines[-1].startswith(f"admin  http://127.0.0.1:{admin_port}  ")
        summary = json.loads((tmp_path / "clusters.json").read_text())
        assert summary["admin"] == f"http://127.0.0.1:{admin_port}"
        assert [c["name"] for c in summary["clusters"]] == NAMES
        assert [c["name"] for c in _admin(admin_port, "GET", "/clusters")] == NAMES

        for name in NAMES:
            core = _core(tmp_path, name)
            assert "default" in [ns.metadata.name for ns in core.list_namespace().items]
            assert [n.metadata.name for n in core.list_node().items] == [f"{name}-node-1"]

        pids = _child_pids(admin_port)
        assert pids["sim-1"] == pids["sim-2"] != pids["sim-3"] == pids["sim-4"]
        assert process.pid not in pids.values()

        # Faults through the one admin port reach the child owning the cluster, and only that cluster.
        assert _admin(admin_port, "POST", "/clusters/sim-3/faults", {"down": True})["down"] is True
        with pytest.raises(urllib3.exceptions.HTTPError):
            _core(tmp_path, "sim-3").list_namespace()
        assert _core(tmp_path, "sim-1").list_namespace().items
        assert _core(tmp_path, "sim-4").list_namespace().items  # same child, other cluster
        assert _admin(admin_port, "GET", "/clusters/sim-3/faults")["down"] is True
        assert [c["faults"]["down"] for c in _admin(admin_port, "GET", "/clusters")] == [False, False, True, False]
        _admin(admin_port, "POST", "/clusters/sim-3/faults", {"down": False})
        assert _core(tmp_path, "sim-3").list_namespace().items

        if os.path.exists(KUBECTL):  # kubectl against a cluster of the second child
            result = subprocess.run([KUBECTL, "--kubeconfig", str(tmp_path / "sim-4.kubeconfig"), "--cache-dir",
                                     str(tmp_path / "cache"), "get", "ns"], capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            assert "kube-system" in result.stdout
    finally:
        code = _stop(process)
    assert code == 0, process.stderr.read().decode()
    wait_for(lambda: not any(_alive(pid) for pid in pids.values()), message="children to exit")


def test_a_dead_child_stops_the_others_and_fails_the_command(tmp_path):
    port = free_port_block(len(NAMES) + 1)
    process, _ = _start(tmp_path, port, manage=True)
    try:
        pids = _child_pids(port + len(NAMES))
        os.kill(pids["sim-3"], signal.SIGKILL)
        code = process.wait(30)
    finally:
        _stop(process)
    assert code != 0
    assert "exited with code" in process.stderr.read().decode()
    wait_for(lambda: not _alive(pids["sim-1"]), message="the surviving child to exit")


def test_children_exit_with_a_killed_parent_and_tokens_survive_a_restart(tmp_path):
    port = free_port_block(len(NAMES) + 1)
    process, _ = _start(tmp_path, port)
    try:
        pids = _child_pids(port + len(NAMES))
        tokens = {n: yaml.safe_load((tmp_path / f"{n}.kubeconfig").read_text())["users"][0]["user"]["token"]
                  for n in NAMES}
        process.kill()
        process.wait(10)
        wait_for(lambda: not any(_alive(pid) for pid in pids.values()), message="orphaned children to exit")
    finally:
        _stop(process)

    process, _ = _start(tmp_path, port)
    try:
        for name in NAMES:
            config_text = (tmp_path / f"{name}.kubeconfig").read_text()
            assert yaml.safe_load(config_text)["users"][0]["user"]["token"] == tokens[name]
            assert _core(tmp_path, name).list_namespace().items
    finally:
        assert _stop(process) == 0
