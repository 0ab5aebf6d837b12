"""Release benchmark (b): one instance with N pods (default 1,000) as a CloneSet on C simulated
clusters (default 10, OpenKruise's CloneSet in the simulator), released in place through the real
engine driven by a real Celery worker, with requests flowing through the simulated load balancer.

For each run (lossless on, then off, each to a new image):
- wall time: release_start -> SUCCEEDED (the worker's lease, steps, per-pod hooks, gates);
- the simulator-bound minimum: per step, one pod's in-place update as the simulator makes it last
  (when lossless: drain before it + the simulator's ready delay + the warm-up after it; not lossless:
  the ready delay alone, the engine does not warm up then); every pod of a step is updated in
  parallel, so a step cannot be faster; summed over the plan's steps. Left out, so the figure
  flatters nobody: the simulator's own reaction times, the API round trips of a pass, and the
  simulated load balancer's lag (--release-lb-lag, the simulator's --traffic-lag). The engine does
  not wait for that lag: when it puts a pod back, the LB still reports the pod's stale "ready" from
  before its restart, and it marks the pod unhealthy only later; the "no healthy backend" losses of
  a lossless run are most likely that window (a known issue of the engine, not of this figure);
- orchestration overhead = (wall - minimum) / minimum (target < 5 %);
- Kubernetes API calls made for the release (clusters/kube.py CallCounter: the worker runs in this
  process, on a thread, so its calls are counted here);
- requests the generator sent / lost while the release ran (trafficsim, target "lb:<ns>.<svc>").

Needs PostgreSQL (DATABASE_URL: the executor's threads write the database; a throwaway test
database is made from it) and Redis (REDIS_URL, else an embedded one) as the broker. Without
them it prints why and returns. Everything it starts (simulator, worker, Redis) is stopped at
the end whatever happens.

Stand-in (said so where it is done): image references resolve to fixed digests instead of the
built-in registry, which needs the web process and pushed blobs; the simulator runs images by
name and the release only compares revisions.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NS = "bench-test"
APP = "checkout"


def add_arguments(group) -> None:
    group.add_argument("--release-clusters", type=int, default=10, help="simulated clusters (default 10)")
    group.add_argument("--release-pods", type=int, default=1000, help="pods of the instance in all (default 1000)")
    group.add_argument("--release-ready-delay", type=float, default=1.0,
                       help="simulator: seconds before a (re)started container is ready (default 1)")
    group.add_argument("--release-lb-lag", type=float, default=2.0,
                       help="simulator: seconds the load balancer follows readiness late (default 2)")
    group.add_argument("--release-drain", type=float, default=1.0, help="drain seconds per pod (default 1)")
    group.add_argument("--release-warmup", type=float, default=0.5, help="warm-up seconds per pod (default 0.5)")
    group.add_argument("--release-batches", default="50%,100%", help="cumulative batches per cell (default 50%%,100%%)")
    group.add_argument("--release-traffic-rate", type=float, default=200.0,
                       help="requests per second through the load balancer during each release (default 200)")
    group.add_argument("--release-timeout", type=float, default=1800.0, help="limit per release in seconds")


def run_from_options(options: dict, out=print) -> dict | None:
    return run(out, clusters=options.get("release_clusters", 10), pods=options.get("release_pods", 1000),
               ready_delay=options.get("release_ready_delay", 1.0),
               lb_lag=options.get("release_lb_lag", 2.0), drain=options.get("release_drain", 1.0),
               warmup=options.get("release_warmup", 0.5),
               batches=[b.strip() for b in str(options.get("release_batches", "50%,100%")).split(",") if b.strip()],
               rate=options.get("release_traffic_rate", 200.0), timeout=options.get("release_timeout", 1800.0))


def _missing() -> str:
    from django.db import connection

    if connection.vendor != "postgresql":
        return "needs PostgreSQL (DATABASE_URL): the executor's threads write the database"
    try:
        import releases.engine.executor  # noqa: F401
        import releases.tasks  # noqa: F401
    except ImportError as exc:
        return f"the release engine is not there ({exc})"
    return ""


def run(out=print, *, clusters: int = 10, pods: int = 1000, ready_delay: float = 1.0, lb_lag: float = 2.0,
        drain: float = 1.0,
        warmup: float = 0.5, batches=("50%", "100%"), rate: float = 200.0, timeout: float = 1800.0) -> dict | None:
    why = _missing()
    if why:
        out(f"  not measured: {why}")
        return None
    from django.test.utils import override_settings

    from clusters.federation.bench_support import throwaway_database

    figures: dict = {"clusters": clusters, "pods": pods, "per_cluster": pods // clusters, "runs": []}
    with _sigterm_unwinds(), _redis() as redis_url, _simulator(clusters, ready_delay, lb_lag) as sim, throwaway_database(), \
            override_settings(DEBUG=False, REDIS_URL=redis_url, CELERY_BROKER_URL=redis_url,
                              REGISTRY_HOST=f"127.0.0.1:{sim['closed_port']}",
                              # A prefix of its own: groups left in a shared Redis by other runs are not ours.
                              CHANNEL_LAYERS={"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                                          "CONFIG": {"hosts": [redis_url],
                                                                     "prefix": f"release-bench-{os.getpid()}"}}}), \
            _quiet(), _builtin_digests(), _worker(redis_url):
        setup = _deploy(sim, pods // clusters, out)
        figures["deploy_s"] = setup["deploy_s"]
        generator = _Generator(sim["traffic_url"], f"lb:{NS}.{setup['service']}", rate)
        try:
            for n, lossless in enumerate((True, False), start=2):
                options = {"beta": {"pods": 1, "cell": None}, "grouping": "cell", "batches": list(batches),
                           "confirm": "auto", "wait_seconds": 0, "lossless": lossless, "drain_seconds": drain,
                           "warmup_seconds": warmup, "on_gate_failure": "pause",
                           "gates": {"min_ready_ratio": 1.0, "no_restarts": False, "metrics": [],
                                     "prometheus_url": "", "timeout_seconds": 300}}
                out(f"  release to image {n}.0, lossless {'on' if lossless else 'off'} ...")
                figures["runs"].append(_release(setup, options, n, ready_delay, lb_lag, generator, timeout))
        finally:
            generator.stop()
    print_table(out, figures)
    return figures


# --- services this bench starts -----------------------------------------------------------------

@contextlib.contextmanager
def _sigterm_unwinds():
    """A SIGTERM stops the benchmark as Ctrl-C does: through the cleanup (simulator, worker, database)."""
    import signal

    def interrupt(*_):
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, interrupt) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _redis():
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    import tempfile

    from paas.supervisor import EmbeddedRedis

    with tempfile.TemporaryDirectory(prefix="release-bench-redis-") as directory:
        redis = EmbeddedRedis(Path(directory) / "redis.db")
        try:
            yield redis.start()
        finally:
            redis.stop()


@contextlib.contextmanager
def _simulator(count: int, ready_delay: float, lb_lag: float):
    from clusters.federation.bench_support import free_port_block, temporary_directory

    port = free_port_block(count + 3)
    names = [f"rb-{i + 1}" for i in range(count)]
    with temporary_directory("release-bench-") as state:
        argv = [sys.executable, "-m", "clusters.simulator", "--clusters", str(count), "--port", str(port),
                "--admin-port", str(port + count), "--traffic-port", "0",  # any free port: no race
                "--state-dir", str(state), "--names", ",".join(names), "--ready-delay", str(ready_delay),
                "--traffic-lag", str(lb_lag),
                "--nodes-per-cluster", "10"]
        log = open(state / "simulator.log", "w")  # noqa: SIM115 - closed below
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT,  # noqa: S603
                                   start_new_session=True)
        try:
            lines = [process.stdout.readline() for _ in range(count + 2)]
            if not all(lines):
                raise RuntimeError("the simulator did not start: " + (state / "simulator.log").read_text()[-2000:])
            info = json.loads((state / "clusters.json").read_text())
            yield {"kubeconfigs": {name: state / f"{name}.kubeconfig" for name in names},
                   "traffic_url": info["traffic_url"], "closed_port": port + count + 2}
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            log.close()


@contextlib.contextmanager
def _quiet():
    """The worker's and the channel layer's INFO lines (one per task, per push) would bury the table."""
    import logging

    loggers = [logging.getLogger(name) for name in ("celery", "channels_redis", "releases", "clusters")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextlib.contextmanager
def _builtin_digests():
    """Stand-in for the built-in registry's lookup (see the module docstring): every tag of the
    bench's repository names a fixed digest derived from it."""
    from applications import images

    real = images.builtin_digest

    def lookup(tenant, repository, reference):
        if reference.startswith("sha256:"):
            return reference
        return "sha256:" + hashlib.sha256(f"{repository}:{reference}".encode()).hexdigest()

    images.builtin_digest = lookup
    try:
        yield
    finally:
        images.builtin_digest = real


@contextlib.contextmanager
def _worker(redis_url: str):
    """A real Celery worker on a thread of this process, consuming the default queue from Redis."""
    from celery.contrib.testing.worker import start_worker

    from paas.celery import app

    saved = app.conf.broker_url
    app.conf.broker_url = redis_url
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"):
            yield
    finally:
        app.conf.broker_url = saved


# --- the instance -----------------------------------------------------------------------------------

def _deploy(sim: dict, replicas: int, out) -> dict:
    from applications import services as app_services
    from clusters.crypto import encrypt
    from clusters.federation import services as fed_services
    from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone
    from paas.actors import Actor
    from releases.models import TrafficProvider
    from tenants import services as tenant_services

    actor = Actor.for_system("bench.release")
    started = time.perf_counter()
    tenant = tenant_services.tenant_create(actor=actor, name="Bench", slug="bench")
    environment = tenant.environments.get(slug="test")
    tenant_services.quota_update(actor=actor, quota=environment.quota, pods=100_000, cpu_millicores=1_000_000,
                                 memory_mib=1_000_000, ephemeral_storage_mib=1_000_000)
    region = Region.objects.create(name="Bench", slug="rbench")
    zones = [Zone.objects.create(region=region, name=f"Z{i}", slug=f"rbz-{i}") for i in range(2)]
    clusters = []
    for i, (name, path) in enumerate(sim["kubeconfigs"].items()):
        cell = Cell.objects.get_or_create(slug=f"rbcell-{i // 2}", defaults={"zone": zones[i // 2 % 2],
                                                                             "name": f"cell {i // 2}"})[0]
        clusters.append(Cluster.objects.create(cell=cell, name=name, slug=name, server="https://bench",
                                               credentials=encrypt(path.read_text())))
    for cell in Cell.objects.filter(slug__startswith="rbcell-"):
        EnvironmentBinding.objects.create(environment=environment, cell=cell)
    ftype = fed_services.federated_type_register_crd(actor=actor, cluster=clusters[0],
                                                     crd_name="clonesets.apps.kruise.io")
    fed_services.federated_type_set_enabled(actor=actor, ftype=ftype, enabled=True)
    application = app_services.application_create(actor=actor, tenant=tenant, name=APP)
    app_services.component_create(actor=actor, application=application, data={
        "name": "web", "image": "bench/checkout:1.0", "workload_kind": "cloneset",
        "ports": [{"name": "http", "port": 8080}], "readiness_probe": {"type": "tcp", "port": 8080},
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi", "ephemeral-storage": "10Mi"},
                      "limits": {"cpu": "10m", "memory": "16Mi", "ephemeral-storage": "10Mi"}},
        "replicas": {"dev": 1, "test": replicas, "pre": replicas, "prod": replicas}})
    first = app_services.revision_create(actor=actor, application=application, environment=environment)
    instance = app_services.instance_apply_revision(actor=actor, instance=application.instances.get(
        environment=environment), revision=first)
    _converge([c.pk for c in clusters])
    _wait(lambda: _ready_pods(clusters) >= replicas * len(clusters), 600, "revision 1 ready everywhere")
    from applications.validation import object_name

    service = object_name(APP, "web")
    TrafficProvider.objects.create(instance=instance, kind=TrafficProvider.Kind.LOAD_BALANCER, name="slb",
                                   url=sim["traffic_url"], config={"generator": "bench"})
    out(f"  {replicas * len(clusters):,} pods ready on {len(clusters)} clusters in "
        f"{time.perf_counter() - started:.0f} s")
    return {"actor": actor, "application": application, "environment": environment, "instance": instance,
            "clusters": clusters, "service": service, "deploy_s": time.perf_counter() - started}


def _converge(cluster_ids: list[int], timeout: float = 600) -> None:
    from clusters.federation import sync
    from clusters.federation.models import Propagation

    deadline = time.monotonic() + timeout
    while Propagation.objects.filter(dirty=True).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("federation did not converge")
        sync.sync_clusters(cluster_ids)


def _ready_pods(clusters) -> int:
    from kubernetes import client

    from clusters import kube

    ready = 0
    for cluster in clusters:
        api = client.CoreV1Api(kube.api_client(cluster))
        for pod in api.list_namespaced_pod(NS, label_selector=f"app.stratus.io/application={APP}").items:
            if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
                ready += 1
    return ready


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(1)


class _Generator:
    def __init__(self, base: str, target: str, rate: float):
        self.base, self.target, self.rate = base.rstrip("/"), target, rate
        self._call("POST", "/traffic/v1/generators", {"name": "bench", "target": target, "rate": rate})

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,  # noqa: S310 - 127.0.0.1
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return json.loads(answer.read() or b"{}")

    def reset(self) -> None:
        self._call("POST", "/traffic/v1/generators/bench/reset", {})

    def counts(self) -> dict:
        return self._call("GET", "/traffic/v1/generators/bench")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._call("DELETE", "/traffic/v1/generators/bench")


# --- one release ------------------------------------------------------------------------------------

def _release(setup: dict, options: dict, version: int, ready_delay: float, lb_lag: float, generator: _Generator,
             timeout: float) -> dict:
    from applications import services as app_services
    from clusters import kube
    from releases import services as release_services
    from releases.models import Release

    actor, application = setup["actor"], setup["application"]
    app_services.component_update(actor=actor, component=application.components.get(),
                                  data={"image": f"bench/checkout:{version}.0"})
    target = app_services.revision_create(actor=actor, application=application, environment=setup["environment"])
    setup["instance"].refresh_from_db()
    release = release_services.release_create(actor=actor, instance=setup["instance"], target=target,
                                              options=options)
    steps = release.steps.count()
    generator.reset()
    kube.api_calls.reset()
    started = time.perf_counter()
    release_services.release_start(actor=actor, release=release)  # kicks releases.advance on the broker
    deadline = time.monotonic() + timeout
    while True:
        release.refresh_from_db()
        if release.state in Release.FINAL_STATES or release.state == Release.State.PAUSED:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"release still {release.state} after {timeout:.0f} s")
        time.sleep(0.1)
    wall = time.perf_counter() - started
    traffic = generator.counts()
    # Lossless: drain, the restart, warm-up. Not lossless: the hook is flipped at once and a pod on
    # the new revision is done when Ready (no warm-up: pods.py), so only the restart. The LB's lag
    # is not in it: the engine does not wait for it (the LB still reports the pod's stale "ready"
    # when it is put back), see the module docstring.
    per_step = ready_delay + (options["drain_seconds"] + options["warmup_seconds"] if options["lossless"] else 0)
    minimum = steps * per_step
    return {"lossless": options["lossless"], "state": release.state, "reason": release.reason, "steps": steps,
            "wall_s": wall, "minimum_s": minimum, "overhead": (wall - minimum) / minimum if minimum else None,
            "api_calls": kube.api_calls.total(), "events": release.last_seq,
            "sent": traffic.get("sent", 0), "failed": traffic.get("failed", 0),
            "failures": traffic.get("failures_by_reason", {})}


def print_table(out, figures: dict) -> None:
    out("")
    out(f"{figures['pods']:,} pods ({figures['per_cluster']} per cluster) on {figures['clusters']} simulated clusters, "
        f"CloneSet in place; deployed in {figures['deploy_s']:.0f} s")
    out("| lossless | steps | state | wall | simulator-bound minimum | overhead (target < 5 %) | Kubernetes calls "
        "| events | requests lost |")
    out("|---|---|---|---|---|---|---|---|---|")
    for r in figures["runs"]:
        overhead = f"{r['overhead'] * 100:.1f} %" if r["overhead"] is not None else "—"
        lost = f"{r['failed']:,} of {r['sent']:,}"
        out(f"| {'on' if r['lossless'] else 'off'} | {r['steps']} | {r['state']} | {r['wall_s']:.1f} s | "
            f"{r['minimum_s']:.1f} s | {overhead} | {r['api_calls']:,} | {r['events']:,} | {lost} |")
        if r["reason"]:
            out(f"  reason: {r['reason']}")
        if r["failures"]:
            out(f"  failures: {', '.join(f'{k} ×{v}' for k, v in sorted(r['failures'].items()))}")
    out("Minimum: per step, the simulator's ready delay (+ drain and warm-up when lossless), every pod of a step "
        "in parallel; overhead = (wall - minimum) / minimum.")

