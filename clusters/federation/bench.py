"""Federation engine benchmark against the simulator.

    python manage.py bench --only federation      (or: python -m clusters.federation.bench)

1. Baselines: plain loops of the official client writing N×C Deployments directly,
   by create (POST) and by server-side apply (what the engine sends).
2. Engine: create N federated Deployments placed on C clusters (N×C member objects)
   through the services, then sync every cluster in a thread pool (in process, no
   broker, so the engine is what is measured) until nothing is dirty. Reported:
   wall time to full convergence, Kubernetes API calls, calls per second, and the
   ratio of that time to the baseline's.
3. Re-sync of everything unchanged (all rows marked dirty): writes must be 0.
4. One override changed: objects rewritten (only the cluster it selects).
5. Latency from saving one change to its convergence in all clusters: P50/P99.

Each of the three writers gets a fresh simulator (a child process with C clusters,
its own CPU), so none works against objects another left behind; the data goes
to a throwaway database (Django's test-database machinery) removed at the end.
Replicas default to 0 so the simulator's pods do not compete with the API server;
--replicas N adds them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from clusters.simulator.bench import free_port_block

ROOT = Path(__file__).resolve().parents[2]




@contextmanager
def simulator(count: int):
    """C simulated clusters in a child process; yields {name: kubeconfig path}."""
    state = Path(tempfile.mkdtemp(prefix="fed-bench-"))
    port = free_port_block(count + 1)
    names = [f"bench-{i + 1}" for i in range(count)]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "clusters.simulator", "--clusters", str(count), "--port", str(port),
         "--admin-port", str(port + count), "--state-dir", str(state), "--names", ",".join(names),
         "--ready-delay", "0.5", "--nodes-per-cluster", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        for _ in range(count + 1):
            if not process.stdout.readline():
                raise RuntimeError(f"simulator did not start: {process.stderr.read()}")
        yield {name: state / f"{name}.kubeconfig" for name in names}
    finally:
        process.terminate()
        process.wait(30)


@contextmanager
def throwaway_database():
    """A fresh, migrated database (SQLite: a temporary file, so threads share it)."""
    from django.db import connection

    if connection.vendor == "sqlite":
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(
            Path(tempfile.mkdtemp(prefix="fed-bench-db-")) / "bench.sqlite3")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    resources = {"cpu": "10m", "memory": "16Mi", "ephemeral-storage": "16Mi"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                         "name": "main", "image": "registry.local/bench/app:1", "ports": [{"containerPort": 8080}],
                         "resources": {"requests": resources, "limits": resources}}]}}}}


def _baseline(count: int, clusters_n: int, replicas: int, *, server_side_apply: bool) -> float:
    """Seconds for a plain client loop writing the same objects directly, on a fresh
    simulator of its own: by create (POST), or by server-side apply (what the engine
    sends, which costs the API server more)."""
    from kubernetes import client, config

    from .kubeio import apply

    with simulator(clusters_n) as kubeconfigs:
        apis = [config.new_client_from_config(config_file=str(path)) for path in kubeconfigs.values()]
        for api in apis:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": "bench"}})
        started = time.perf_counter()
        for api in apis:
            apps = client.AppsV1Api(api)
            for i in range(count):
                body = _deployment(f"app-{i}", replicas)
                if server_side_apply:
                    body["metadata"]["namespace"] = "bench"
                    apply(api, f"/apis/apps/v1/namespaces/bench/deployments/app-{i}", body)
                else:
                    apps.create_namespaced_deployment("bench", body)
        elapsed = time.perf_counter() - started
        for api in apis:
            api.close()
    return elapsed


def _topology(kubeconfigs: dict, actor):
    from clusters.crypto import encrypt
    from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone
    from tenants import services as tenant_services

    tenant = tenant_services.tenant_create(actor=actor, name="Bench", slug="bench")
    environment = tenant.environments.get(slug="prod")
    tenant_services.quota_update(actor=actor, quota=environment.quota, pods=1_000_000, cpu_millicores=10_000_000,
                                 memory_mib=100 * 1024 * 1024, ephemeral_storage_mib=1024 * 1024 * 1024)
    region = Region.objects.create(name="Bench", slug="bench")
    zones = [Zone.objects.create(region=region, name=f"Z{i}", slug=f"bz-{i}") for i in range(2)]
    clusters = []
    for i, (name, path) in enumerate(kubeconfigs.items()):
        cell = Cell.objects.get_or_create(slug=f"bcell-{i // 2}", defaults={"zone": zones[i // 2 % 2],
                                                                            "name": f"cell {i // 2}"})[0]
        clusters.append(Cluster.objects.create(cell=cell, name=name, slug=name, server="https://bench",
                                               credentials=encrypt(path.read_text())))
    for cell in Cell.objects.filter(slug__startswith="bcell-"):
        EnvironmentBinding.objects.create(environment=environment, cell=cell)
    return environment, clusters


def _sync_round(pool, clusters) -> list:
    from django.db import connection

    from . import sync

    def one(pk):
        try:
            return sync.sync_cluster(pk)
        finally:
            connection.close()

    return list(pool.map(one, [c.pk for c in clusters]))


def _converge(pool, clusters, timeout: float = 900) -> int:
    from .models import Propagation

    deadline, rounds = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        _sync_round(pool, clusters)
        rounds += 1
        if not Propagation.objects.filter(dirty=True).exists():
            return rounds
    raise RuntimeError("the engine did not converge")


def _sync_while(pool, clusters, creating: threading.Event) -> None:
    """Sync rounds until creation has finished and nothing is dirty any more."""
    from django.db import connection

    from .models import Propagation

    try:
        while True:
            still_creating = creating.is_set()
            _sync_round(pool, clusters)
            if not Propagation.objects.filter(dirty=True).exists():
                if not still_creating:
                    return
                time.sleep(0.05)
    finally:
        connection.close()


def run(count: int = 1000, clusters_n: int = 10, samples: int = 100, replicas: int = 0, report=print) -> dict:
    from clusters import kube
    from paas.actors import Actor

    from . import scheduling, services
    from .models import FederatedType, Propagation

    figures = {"resources": count, "clusters": clusters_n, "objects": count * clusters_n}
    figures["baseline_s"] = _baseline(count, clusters_n, replicas, server_side_apply=False)
    figures["baseline_apply_s"] = _baseline(count, clusters_n, replicas, server_side_apply=True)
    report(f"baseline: plain client loops wrote {count * clusters_n} objects: created in "
           f"{figures['baseline_s']:.1f} s, server-side applied in {figures['baseline_apply_s']:.1f} s")
    with simulator(clusters_n) as kubeconfigs, throwaway_database(), \
            mock.patch.object(scheduling, "enqueue_sync", lambda ids: None), \
            ThreadPoolExecutor(max_workers=clusters_n) as pool:
        actor = Actor.for_system("bench")
        environment, clusters = _topology(kubeconfigs, actor)
        ftype = FederatedType.objects.get(group="apps", kind="Deployment")
        kube.api_calls.reset()
        started = time.perf_counter()
        # As in production, clusters are synced while resources are still being created
        # (workers pick up the syncs enqueued on commit); here a loop of sync rounds does it.
        creating = threading.Event()
        creating.set()
        syncer = threading.Thread(target=_sync_while, args=(pool, clusters, creating), name="bench-sync")
        syncer.start()
        try:
            resources = [services.federated_resource_create(
                actor=actor, environment=environment, ftype=ftype, name=f"app-{i}",
                template=_deployment(f"app-{i}", replicas)) for i in range(count)]
        finally:
            figures["create_s"] = time.perf_counter() - started
            creating.clear()
            syncer.join()
        figures["converge_s"] = time.perf_counter() - started
        figures["api_calls"] = kube.api_calls.total()
        figures["calls_per_s"] = figures["api_calls"] / figures["converge_s"]
        figures["ratio"] = figures["converge_s"] / figures["baseline_s"]
        assert Propagation.objects.filter(state="applied").count() == count * clusters_n
        report(f"engine: {count} resources created in {figures['create_s']:.1f} s, all {count * clusters_n} "
               f"objects converged after {figures['converge_s']:.1f} s, {figures['api_calls']} API calls")

        Propagation.objects.update(dirty=True)
        kube.api_calls.reset()
        started = time.perf_counter()
        _converge(pool, clusters)
        figures["resync_s"] = time.perf_counter() - started
        figures["resync_writes"] = kube.api_calls.total()

        kube.api_calls.reset()
        services.federated_resource_update(actor=actor, resource=resources[0], overrides=[
            {"clusters": [clusters[0].slug], "operations": [
                {"op": "replace", "path": "/spec/template/spec/containers/0/image",
                 "value": "registry.local/bench/app:2"}]}])
        _converge(pool, clusters)
        figures["override_rewrites"] = kube.api_calls.total()

        latencies = []
        for i in range(samples):
            resource = resources[(i + 1) % count]
            template = _deployment(resource.name, replicas)
            template["spec"]["template"]["spec"]["containers"][0]["image"] = f"registry.local/bench/app:v{i + 3}"
            started = time.perf_counter()
            services.federated_resource_update(actor=actor, resource=resource, template=template)
            _converge(pool, clusters)
            latencies.append(time.perf_counter() - started)
        latencies.sort()
        figures["latency_p50_ms"] = statistics.median(latencies) * 1000
        figures["latency_p99_ms"] = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))] * 1000
        figures["latency_samples"] = samples
    return figures


def table(f: dict) -> str:
    rows = [
        ("federated Deployments x clusters", f"{f['resources']} x {f['clusters']} = {f['objects']} objects"),
        ("creating them (services: validate, plan, audit)", f"{f['create_s']:.1f} s"),
        ("wall time to full convergence (synced meanwhile)", f"{f['converge_s']:.1f} s"),
        ("Kubernetes API calls", f"{f['api_calls']}"),
        ("calls per second", f"{f['calls_per_s']:.0f}"),
        ("plain client loop (create), same objects", f"{f['baseline_s']:.1f} s"),
        ("engine time / plain loop", f"{f['ratio']:.2f}"),
        ("plain server-side-apply loop, same objects", f"{f['baseline_apply_s']:.1f} s"),
        ("engine time / plain apply loop", f"{f['converge_s'] / f['baseline_apply_s']:.2f}"),
        ("unchanged re-sync: writes", f"{f['resync_writes']} (in {f['resync_s']:.1f} s)"),
        ("one override changed: objects rewritten", f"{f['override_rewrites']}"),
        (f"save -> converged in all clusters ({f['latency_samples']} changes)",
         f"P50 {f['latency_p50_ms']:.0f} ms / P99 {f['latency_p99_ms']:.0f} ms"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{'measure':<{width}}  value", f"{'-' * width}  {'-' * 30}"]
    lines += [f"{k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m clusters.federation.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--samples", type=int, default=100, help="changes timed for the latency percentiles")
    parser.add_argument("--replicas", type=int, default=0, help="replicas per member Deployment")
    args = parser.parse_args([] if argv is None and "manage.py" in sys.argv[0] else argv)
    figures = run(args.resources, args.clusters, args.samples, args.replicas)
    print(table(figures), flush=True)
    return figures


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paas.settings")
    import django

    django.setup()
    main()
