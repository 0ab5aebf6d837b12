"""Federation engine benchmark against the simulator (issue 8: 100 clusters).

    make bench ARGS="--only federation --clusters 100 --resources 1000"
    python manage.py bench --only federation --clusters 10 --resources 1000
    python -m clusters.federation.bench --clusters 100 --resources 100 --port-base 20000

1. Baselines (unless --no-baseline): plain loops of the official client writing
   N x C Deployments directly, by create (POST) and by server-side apply.
2. Engine: create N federated Deployments placed on C clusters through the services
   while sync rounds run (as workers do in production), until nothing is dirty.
   A round syncs only the clusters with due work, on a bounded pool (--workers
   threads, as a worker's concurrency), then recomputes each touched resource's
   total status once (status.aggregate_pending), as the beat/aggregate task does.
3. A round with nothing dirty: SQL statements and time.
4. Unchanged re-sync of everything (all rows marked dirty): writes must be 0; time
   and microseconds per member object (linear in resources x clusters).
5. One override for one cluster: objects rewritten, statements and API calls.
6. Save -> converged in all clusters (rows applied, total status recomputed) for
   --samples single-object changes: P50/P99, statements and API calls per change.
7. Peak threads, open file descriptors and RSS of this (engine) process, and RSS
   after the run once memory is released.

It runs with DEBUG off (no query log kept), on a throwaway database (SQLite file
or, with DATABASE_URL, a PostgreSQL test database) and removes its temporary
directories, kubeconfigs with tokens included, even when it fails. Where the
issue recorded figures for the same size, they are printed next to today's.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import threading
import time
from unittest import mock

from .bench_engine import Engine
from .bench_support import (
    ResourceMonitor,
    StatementCounter,
    percentile,
    release_memory,
    rss_mib,
    simulator,
    throwaway_database,
)

# Figures measured before issue 8 (10 x 1,000 and 100 x 100 / 300, SQLite, this machine).
BEFORE = {
    (10, 1000): {"latency": "272 / 320 ms", "change_statements": "131", "idle": "-", "resync": "5.8 s",
                 "peak": "54 threads / 375 MiB"},
    (100, 100): {"latency": "3,336 / 4,036 ms", "change_statements": "1,301", "idle": "1.1 s, 412 statements",
                 "resync": "24.8 s", "peak": "483 threads / 934 MiB"},
    (100, 300): {"latency": "3,930 / 4,478 ms", "change_statements": "1,301", "idle": "1.1 s",
                 "resync": "died: database is locked (117 s retried)", "peak": "495 threads / 2.1 GiB"},
}


def _deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    resources = {"cpu": "10m", "memory": "16Mi", "ephemeral-storage": "16Mi"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                         "name": "main", "image": "registry.local/bench/app:1", "ports": [{"containerPort": 8080}],
                         "resources": {"requests": resources, "limits": resources}}]}}}}


def _baseline(count: int, clusters_n: int, replicas: int, *, server_side_apply: bool, sim: dict) -> float:
    """Seconds for a plain client loop writing the same objects directly, on a fresh
    simulator of its own: by create (POST), or by server-side apply (what the engine
    sends, which costs the API server more)."""
    from kubernetes import client, config

    from .kubeio import apply

    with simulator(clusters_n, **sim) as kubeconfigs:
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


def _create_all(engine, actor, environment, ftype, count, replicas, figures):
    from . import services

    started = time.perf_counter()
    creating = threading.Event()
    creating.set()
    syncer = threading.Thread(target=engine.sync_while, args=(creating,), name="bench-sync")
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
    return resources


def _measure_change(engine, counter, change) -> tuple[float, int, int]:
    """(seconds, statements, API calls) from saving `change` to convergence."""
    from .models import Propagation

    counter.reset()
    engine.reset_counts()
    started = time.perf_counter()
    resource = change()
    engine.converge()
    resource.refresh_from_db(fields=["status", "generation"])
    assert resource.status.get("converged") and resource.status.get("generation") == resource.generation, \
        "the total status was not recomputed"
    assert not Propagation.objects.filter(resource=resource, dirty=True).exists()
    return time.perf_counter() - started, counter.count + engine.statements, engine.api_calls


def run(count: int = 1000, clusters_n: int = 10, samples: int = 100, replicas: int = 0, *, workers: int = 2,
        port_base: int = 0, sim_processes: int = 1, baseline: bool = True, report=print) -> dict:
    from django.test.utils import override_settings

    with override_settings(DEBUG=False):
        return _run(count, clusters_n, samples, replicas, workers=workers, port_base=port_base,
                    sim_processes=sim_processes, baseline=baseline, report=report)


def _run(count, clusters_n, samples, replicas, *, workers, port_base, sim_processes, baseline, report) -> dict:
    from django.db import connection

    from clusters import kube
    from paas.actors import Actor

    from . import scheduling
    from .models import FederatedType

    sim = {"port_base": port_base, "processes": sim_processes}
    figures = {"resources": count, "clusters": clusters_n, "objects": count * clusters_n, "workers": workers,
               "database": connection.vendor, "sim_processes": sim_processes, "rss_start_mib": rss_mib()}
    if baseline:
        figures["baseline_s"] = _baseline(count, clusters_n, replicas, server_side_apply=False, sim=sim)
        figures["baseline_apply_s"] = _baseline(count, clusters_n, replicas, server_side_apply=True, sim=sim)
        report(f"baseline: plain client loops wrote {count * clusters_n} objects: created in "
               f"{figures['baseline_s']:.1f} s, server-side applied in {figures['baseline_apply_s']:.1f} s")
    with simulator(clusters_n, **sim) as kubeconfigs, throwaway_database(), StatementCounter() as counter, \
            mock.patch.object(scheduling, "enqueue_sync", lambda ids: None):
        actor = Actor.for_system("bench")
        environment, clusters = _topology(kubeconfigs, actor)
        ftype = FederatedType.objects.get(group="apps", kind="Deployment")
        engine = Engine(workers, counter)  # forks the workers: before any other thread starts
        try:
            with ResourceMonitor() as monitor:
                _measure(engine, counter, actor, environment, clusters, ftype, count, replicas, samples, figures,
                         report)
                workers_seen = engine.worker_figures()
        finally:
            engine.close()
            gc.unfreeze()
    kube.clear_clients()
    release_memory()
    figures.update(peak_threads=monitor.peak_threads, peak_fds=monitor.peak_fds,
                   peak_rss_mib=monitor.peak_rss_mib, rss_after_mib=rss_mib(),
                   worker_peak_rss_mib=max(rss for _pid, rss, _threads in workers_seen),
                   worker_threads=max(threads for _pid, _rss, threads in workers_seen))
    return figures


def _measure(engine, counter, actor, environment, clusters, ftype, count, replicas, samples, figures, report):
    from . import services
    from .models import Propagation

    clusters_n = len(clusters)
    resources = _create_all(engine, actor, environment, ftype, count, replicas, figures)
    figures["api_calls"] = engine.api_calls
    figures["calls_per_s"] = figures["api_calls"] / figures["converge_s"]
    assert Propagation.objects.filter(state="applied").count() == count * clusters_n
    report(f"engine: {count} resources created in {figures['create_s']:.1f} s, all {count * clusters_n} "
           f"objects converged after {figures['converge_s']:.1f} s, {figures['api_calls']} API calls")

    counter.reset()
    engine.reset_counts()
    started = time.perf_counter()
    engine.round()
    figures["idle_ms"] = (time.perf_counter() - started) * 1000
    figures["idle_statements"] = counter.count + engine.statements

    Propagation.objects.update(dirty=True)
    engine.reset_counts()
    started = time.perf_counter()
    engine.converge()
    figures["resync_s"] = time.perf_counter() - started
    figures["resync_writes"] = engine.api_calls
    figures["resync_us_per_object"] = figures["resync_s"] / (count * clusters_n) * 1e6
    report(f"unchanged re-sync of {count * clusters_n} objects: {figures['resync_s']:.1f} s, "
           f"{figures['resync_writes']} writes")

    def one_override():
        return services.federated_resource_update(actor=actor, resource=resources[0], overrides=[
            {"clusters": [clusters[0].slug], "operations": [
                {"op": "replace", "path": "/spec/template/spec/containers/0/image",
                 "value": "registry.local/bench/app:2"}]}])

    _s, figures["override_statements"], figures["override_rewrites"] = _measure_change(engine, counter, one_override)
    # As a long-running worker does after start-up (paas.celery): what is loaded now lives
    # on, so the collector stops walking it on every pass (pauses of 100 ms and more).
    gc.collect()
    gc.freeze()
    latencies, statements, calls = [], [], []
    for i in range(samples):
        resource = resources[(i + 1) % count]
        template = _deployment(resource.name, replicas)
        template["spec"]["template"]["spec"]["containers"][0]["image"] = f"registry.local/bench/app:v{i + 3}"

        def change(resource=resource, template=template):
            return services.federated_resource_update(actor=actor, resource=resource, template=template)

        seconds, sql, api = _measure_change(engine, counter, change)
        latencies.append(seconds)
        statements.append(sql)
        calls.append(api)
    figures["latency_p50_ms"] = statistics.median(latencies) * 1000
    figures["latency_p99_ms"] = percentile(latencies, 0.99) * 1000
    figures["latency_samples"] = samples
    figures["change_statements"] = statistics.median(statements)
    figures["change_api_calls"] = statistics.median(calls)


def table(f: dict) -> str:
    before = BEFORE.get((f["clusters"], f["resources"]), {}) if f["database"] == "sqlite" else {}
    rows = [
        ("federated Deployments x clusters", f"{f['resources']} x {f['clusters']} = {f['objects']} objects "
                                             f"({f['database']}, {f['workers']} worker processes)", ""),
        ("creating them (services: validate, plan, audit)", f"{f['create_s']:.1f} s", ""),
        ("wall time to full convergence (synced meanwhile)", f"{f['converge_s']:.1f} s", ""),
        ("Kubernetes API calls / per second", f"{f['api_calls']} / {f['calls_per_s']:.0f}", ""),
    ]
    if "baseline_s" in f:
        rows += [
            ("plain client loop (create), same objects", f"{f['baseline_s']:.1f} s", ""),
            ("engine time / plain create loop", f"{f['converge_s'] / f['baseline_s']:.2f}", ""),
            ("plain server-side-apply loop, same objects", f"{f['baseline_apply_s']:.1f} s", ""),
            ("engine time / plain apply loop", f"{f['converge_s'] / f['baseline_apply_s']:.2f}", ""),
        ]
    rows += [
        ("a round with nothing dirty", f"{f['idle_ms']:.1f} ms, {f['idle_statements']} statements",
         before.get("idle", "")),
        ("unchanged re-sync: writes, time", f"{f['resync_writes']} writes, {f['resync_s']:.1f} s "
                                            f"({f['resync_us_per_object']:.0f} us per object)", before.get("resync", "")),
        ("one override for one cluster: rewrites, statements",
         f"{f['override_rewrites']} API calls, {f['override_statements']} statements", ""),
        (f"save -> converged in all clusters, P50 / P99 ({f['latency_samples']} changes)",
         f"{f['latency_p50_ms']:.0f} / {f['latency_p99_ms']:.0f} ms", before.get("latency", "")),
        ("statements / API calls for one single-object change",
         f"{f['change_statements']:.0f} / {f['change_api_calls']:.0f}", before.get("change_statements", "")),
        ("engine peak threads / open files / RSS (parent)",
         f"{f['peak_threads']} / {f['peak_fds']} / {f['peak_rss_mib']:.0f} MiB", before.get("peak", "")),
        (f"each of the {f['workers']} worker processes: threads / peak RSS",
         f"{f['worker_threads']} / {f['worker_peak_rss_mib']:.0f} MiB", ""),
        ("engine RSS before / after the run (memory released)",
         f"{f['rss_start_mib']:.0f} / {f['rss_after_mib']:.0f} MiB", ""),
    ]
    width = max(len(k) for k, _v, _b in rows)
    value_width = max(len(v) for _k, v, _b in rows)
    lines = [f"{'measure':<{width}}  {'now':<{value_width}}  before (issue 8)",
             f"{'-' * width}  {'-' * value_width}  {'-' * 24}"]
    lines += [f"{k:<{width}}  {v:<{value_width}}  {b}".rstrip() for k, v, b in rows]
    return "\n".join(lines)


def add_arguments(parser) -> None:
    group = parser.add_argument_group("federation (issue 8)")
    group.add_argument("--resources", type=int, default=1000, help="federated Deployments (default 1000)")
    group.add_argument("--clusters", type=int, default=10, help="simulated member clusters (default 10)")
    group.add_argument("--samples", type=int, default=100, help="changes timed for the latency percentiles")
    group.add_argument("--replicas", type=int, default=0, help="replicas per member Deployment (default 0)")
    group.add_argument("--workers", type=int, default=2,
                       help="worker processes syncing cells, as Celery's prefork pool (default 2, this machine's cores)")
    group.add_argument("--port-base", type=int, default=0,
                       help="first simulator port (clusters use the next ones, then the admin port); default: free")
    group.add_argument("--sim-processes", type=int, default=0,
                       help="simulator processes (default: 2 from 50 clusters on, else 1)")
    group.add_argument("--no-baseline", action="store_true", help="skip the plain client loops")


def run_from_options(options: dict) -> dict:
    processes = options["sim_processes"] or (2 if options["clusters"] >= 50 else 1)
    figures = run(options["resources"], options["clusters"], options["samples"], options["replicas"],
                  workers=options["workers"], port_base=options["port_base"], sim_processes=processes,
                  baseline=not options["no_baseline"])
    print(table(figures), flush=True)
    return figures


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m clusters.federation.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_from_options(vars(args))


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paas.settings")
    import django

    django.setup()
    main(sys.argv[1:])
