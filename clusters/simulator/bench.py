"""Scale benchmark: one simulated cluster with 10,000 nodes and 100,000 pods.

    python -m clusters.simulator.bench [--nodes 10000] [--pods 100000] [--requests 50]
    python -m clusters.simulator.bench --deployments 10000 --clusters 10

The simulator runs in a child process (so its memory is measured alone), is filled
through the admin bulk-load endpoint, and is then measured over HTTPS with the
official Python client, end to end:
- label-selected list matching 1,000 pods: P50/P99 latency, both as raw JSON
  (``_preload_content=False`` + json.loads) and fully deserialized into V1Pod models,
  plus the model building alone on the same payload without any HTTP, which shows
  how much of the typed figure is the client library's own cost;
- full list of every pod, streamed: time, bytes, and the server's peak RSS meanwhile.
The second form times normal operation instead: deployments created through the
official client across several clusters until all are available.
``run_benchmark()`` / ``run_deployment_benchmark()`` return the figures as dicts for
other callers (``make bench``).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

GIB = 1024 ** 3


def free_port_block(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no block of free ports")


def _proc_status(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0]) * 1024
    return out


def _reset_peak(pid: int) -> None:
    # Writing 5 to clear_refs resets VmHWM (Linux >= 4.0), so the next reading is the
    # peak of the phase that follows.
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def _post(url: str, body: dict, timeout: float = 900) -> dict:
    # Only ever the simulator's own loopback admin URL, built above: no scheme surprises.
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def _percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _timed(call, expected: int) -> float:
    """Seconds one call takes, with this process's cyclic GC paused like timeit does, so a
    collection of garbage left by earlier samples is not billed to this request."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        count = call()
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
    assert count == expected, (count, expected)
    return elapsed


def run_benchmark(nodes: int = 10_000, pods: int = 100_000, requests: int = 50, apps: int = 100,
                  namespaces: int = 10, report=print) -> dict:
    from kubernetes import client, config

    state, port, process = _start_simulator(clusters=1, nodes=0)
    figures: dict = {}
    try:
        baseline = _proc_status(process.pid)["VmRSS"]
        started = time.perf_counter()
        loaded = _post(f"http://127.0.0.1:{port + 1}/clusters/sim-1/bulk",
                       {"nodes": nodes, "pods": pods, "namespaces": namespaces, "apps": apps})
        figures["load_seconds"] = round(time.perf_counter() - started, 2)
        status = _proc_status(process.pid)
        figures.update(objects_loaded=nodes + pods, nodes=nodes, pods=pods, rss_idle_mib=round(baseline / 2**20),
                       rss_after_load_mib=round(status["VmRSS"] / 2**20),
                       peak_rss_load_mib=round(status["VmHWM"] / 2**20))
        report(f"loaded {nodes} nodes + {pods} pods in {figures['load_seconds']} s "
               f"(server-side {loaded['seconds']} s); RSS {figures['rss_after_load_mib']} MiB "
               f"(idle {figures['rss_idle_mib']} MiB, peak {figures['peak_rss_load_mib']} MiB)")

        api = client.CoreV1Api(config.new_client_from_config(config_file=str(state / "sim-1.kubeconfig")))
        selector = f"app=app-{7 % apps}"
        expected = len(api.list_pod_for_all_namespaces(label_selector=selector).items)  # also warms up
        raw = [_timed(lambda: len(json.loads(api.list_pod_for_all_namespaces(
            label_selector=selector, _preload_content=False).data)["items"]), expected) for _ in range(requests)]
        typed = [_timed(lambda: len(api.list_pod_for_all_namespaces(label_selector=selector).items), expected)
                 for _ in range(requests)]
        # The same payload turned into V1Pod models with no server involved: the share of
        # the typed figure that belongs to the client library, not to the API server.
        payload = api.list_pod_for_all_namespaces(label_selector=selector, _preload_content=False).data
        local = [_timed(lambda: len(api.api_client.deserialize(SimpleNamespace(data=payload), "V1PodList").items),
                        expected) for _ in range(min(requests, 10))]
        figures.update(
            client_only_deserialize_p50_ms=round(statistics.median(local) * 1000, 1),
            selected_pods=expected,
            selected_list_p50_ms=round(statistics.median(typed) * 1000, 1),
            selected_list_p99_ms=round(_percentile(typed, 99) * 1000, 1),
            selected_list_raw_p50_ms=round(statistics.median(raw) * 1000, 1),
            selected_list_raw_p99_ms=round(_percentile(raw, 99) * 1000, 1),
        )
        report(f"label-selected list ({selector}, {expected} pods) over {requests} requests: "
               f"V1PodList P50 {figures['selected_list_p50_ms']} ms / P99 {figures['selected_list_p99_ms']} ms; "
               f"raw JSON P50 {figures['selected_list_raw_p50_ms']} ms / P99 {figures['selected_list_raw_p99_ms']} ms; "
               f"of which client-side V1Pod model building alone (no HTTP) P50 "
               f"{figures['client_only_deserialize_p50_ms']} ms")

        _reset_peak(process.pid)
        t0 = time.perf_counter()
        response = api.list_pod_for_all_namespaces(_preload_content=False)
        size = sum(len(chunk) for chunk in response.stream(1 << 20))
        figures["full_list_seconds"] = round(time.perf_counter() - t0, 2)
        figures["full_list_mib"] = round(size / 2**20, 1)
        figures["peak_rss_full_list_mib"] = round(_proc_status(process.pid)["VmHWM"] / 2**20)
        report(f"full list of {pods} pods: {figures['full_list_seconds']} s, {figures['full_list_mib']} MiB streamed; "
               f"server peak RSS during it {figures['peak_rss_full_list_mib']} MiB")

        t0 = time.perf_counter()
        token, pages, seen = None, 0, 0
        while True:
            page = api.list_pod_for_all_namespaces(limit=500, _continue=token, _preload_content=False)
            body = json.loads(page.data)
            seen += len(body["items"])
            pages += 1
            token = body["metadata"].get("continue")
            if not token:
                break
        figures["paged_list_seconds"] = round(time.perf_counter() - t0, 2)
        report(f"paged list (limit=500): {pages} pages, {seen} pods in {figures['paged_list_seconds']} s")
        figures["rss_end_mib"] = round(_proc_status(process.pid)["VmRSS"] / 2**20)
        figures["within_memory_budget"] = figures["peak_rss_full_list_mib"] * 2**20 < 4 * GIB
        figures["selected_list_raw_p99_under_200ms"] = figures["selected_list_raw_p99_ms"] < 200
        figures["selected_list_models_p99_under_200ms"] = figures["selected_list_p99_ms"] < 200
        return figures
    finally:
        _stop(process)
        shutil.rmtree(state, ignore_errors=True)


def _start_simulator(clusters: int, nodes: int, ready_delay: float = 2.0) -> tuple[Path, int, subprocess.Popen]:
    """A simulator child process (its memory is then measured alone); returns once it serves."""
    state = Path(tempfile.mkdtemp(prefix="kubesim-bench-"))
    port = free_port_block(clusters + 1)
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, "-m", "clusters.simulator", "--clusters", str(clusters), "--port", str(port),
         "--admin-port", str(port + clusters), "--state-dir", str(state), "--nodes-per-cluster", str(nodes),
         "--ready-delay", str(ready_delay)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    for _ in range(clusters + 1):  # one line per cluster, then the admin line: it is serving
        if not process.stdout.readline():
            raise RuntimeError(f"simulator did not start: {process.stderr.read()}")
    return state, port, process


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def run_deployment_benchmark(clusters: int = 10, deployments: int = 10_000, replicas: int = 1,
                             threads: int = 16, report=print) -> dict:
    """Normal operation at volume: create deployments through the official client across
    several clusters of one simulator process, then wait until every one is available."""
    from concurrent.futures import ThreadPoolExecutor

    from kubernetes import client, config

    state, _, process = _start_simulator(clusters=clusters, nodes=20, ready_delay=1.0)
    try:
        apis = [client.AppsV1Api(config.new_client_from_config(config_file=str(state / f"sim-{i + 1}.kubeconfig")))
                for i in range(clusters)]

        def create(i: int) -> None:
            labels = {"app": f"d-{i}"}
            apis[i % clusters].create_namespaced_deployment("default", {
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"d-{i}"},
                "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "registry.local/app:1.0",
                                             "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}})

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(create, range(deployments)))
        created = time.perf_counter() - started

        def available() -> int:
            count = 0
            for api in apis:
                items = json.loads(api.list_namespaced_deployment("default", _preload_content=False).data)["items"]
                count += sum(1 for d in items if (d.get("status") or {}).get("availableReplicas") == replicas)
            return count

        while available() < deployments:
            time.sleep(0.5)
        figures = {"clusters": clusters, "deployments": deployments, "replicas": replicas,
                   "create_seconds": round(created, 1), "creates_per_second": round(deployments / created),
                   "all_available_seconds": round(time.perf_counter() - started, 1),
                   "server_rss_mib": round(_proc_status(process.pid)["VmRSS"] / 2**20)}
        report(f"{deployments} deployments x {replicas} replicas over {clusters} clusters: created in "
               f"{figures['create_seconds']} s ({figures['creates_per_second']}/s with {threads} client threads), "
               f"all available after {figures['all_available_seconds']} s; server RSS {figures['server_rss_mib']} MiB")
        return figures
    finally:
        _stop(process)
        shutil.rmtree(state, ignore_errors=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m clusters.simulator.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--pods", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--deployments", type=int, default=0,
                        help="instead: create this many deployments across --clusters clusters and time it")
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    if args.deployments:
        figures = run_deployment_benchmark(args.clusters, args.deployments)
    else:
        figures = run_benchmark(args.nodes, args.pods, args.requests)
    if args.json:
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
