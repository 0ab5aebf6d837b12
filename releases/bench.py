"""Release benchmark (issue 11): `make bench ARGS="--only release"`.

(a) Event fan-out of one release: N browsers (default 1,000) watch the stream
    "release.<id>" on the notifications socket of one daphne (the product as `runall` starts
    it, Redis channel layer); a worker records events through releases.events.record, each in
    its transaction as the engine does; worker-to-browser latency = the browser's receive
    time - `sent_at` (taken by releases.live.push right after commit). Target P99 < 200 ms.
    The processes, clients and phases are the live-events benchmark's (paas/realtime/bench.py):
    this adds the subscription (bench_clients: "subscribe") and the release events
    (bench_worker: "release_setup", "release_emit").
(b) The release itself: releases/bench_release.py (simulator, CloneSet, engine, Celery worker,
    traffic generator).

A tool that is missing (Redis, the simulator, ...) makes its part print why and return: it
never fails `make bench`.
"""
from __future__ import annotations

import random
import time
from pathlib import Path

from paas.realtime.bench import PROJECT_DIR, Bench, _seconds

TARGET_P99 = 0.2  # seconds


# --- the worker side (a child process: paas/realtime/bench_worker.py) ----------------------

def setup_release(tenant_id: int) -> dict:
    """A release of the benchmark's tenant with the rows it needs (environment, application,
    two revisions, instance): the fan-out measures the stream, not planning."""
    from applications.models import AppInstance, Application, AppRevision
    from paas.actors import Actor
    from tenants import services
    from tenants.models import Tenant

    from .models import Release

    tenant = Tenant.objects.get(pk=tenant_id)
    environment = services.environment_create(actor=Actor.for_system("bench.release"), tenant=tenant,
                                              name="Bench", slug="bench", kind="test")
    application = Application.objects.create(tenant=tenant, name="bench")
    baseline, target = (AppRevision.objects.create(application=application, environment=environment, number=n,
                                                   spec={}, spec_hash=f"{n:064x}") for n in (1, 2))
    instance = AppInstance.objects.create(application=application, environment=environment, baseline=baseline)
    # An id far from real ones on any database: the stream is "release.<id>", and on a Redis shared with a
    # running portal its browsers watching release 1 must not get the benchmark's events.
    far = random.randrange(10**9, 2 * 10**9)
    release = Release.objects.create(pk=far, tenant=tenant, environment=environment, instance=instance,
                                     baseline=baseline, target=target, number=1)
    return {"release_id": release.pk}


def emit_events(release_id: int, run: str, count: int, rate: float, first: int, step: int,
                start_at: float) -> dict:
    """Events first, first+step, ... of 1..count, event n due at start_at + (n-1)/rate, each a
    transition of its own (row lock, numbered, stored, pushed after commit)."""
    from django.db import transaction

    from . import events
    from .models import Release

    send_ms = []
    for n in range(first, count + 1, step):
        delay = start_at + (n - 1) / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter()
        with transaction.atomic():
            release = Release.objects.select_for_update().get(pk=release_id)
            events.record(release, "pod.state", "bench", data={
                "cluster": 1, "cluster_slug": "bench", "cell": "bench", "component": "web", "pod": f"web-{n}",
                "state": "new", "revision": 2, "restarts": 1, "reason": "",
                "bench_run": run, "bench_n": n, "bench_sent_at": time.time()})
        send_ms.append((time.perf_counter() - t0) * 1000)
    return {"sent": len(send_ms), "send_ms": send_ms, "done_at": time.time()}


# --- (a) fan-out -----------------------------------------------------------------------------

class ReleaseFanOut(Bench):
    """The live-events benchmark, its watchers subscribed to one release's stream."""

    release_id: int | None = None

    def make_release(self) -> None:
        self.release_id = self.worker.request({"cmd": "release_setup", "tenant_id": self.setup["tenant_id"]},
                                              self.left(60))["release_id"]

    def _specs(self, count: int, webs: int) -> list[dict]:
        return [{**spec, "subscribe": f"release.{self.release_id}"} for spec in super()._specs(count, webs)]

    def _emit(self, run: str, count: int, rate: float) -> None:
        start_at = time.time() + 0.2
        for k, emitter in enumerate(self.emitters):
            emitter.send({"cmd": "release_emit", "release_id": self.release_id, "run": run, "count": count,
                          "rate": rate, "first": k + 1, "step": len(self.emitters), "start_at": start_at})
        self._emit_started = start_at


def run_fanout(out=print, *, watchers=(1000,), events: int = 20, rate: float = 2.0, reconnect: int = 0,
               emitters: int = 1, client_procs: int = 1, grace: float = 5.0, max_wait: float = 20.0,
               timeout: float = 300.0, redis_url: str | None = None, temporary_db: bool = False) -> dict:
    """Fan-out rows (and optionally a mass reconnect): returns the figures, prints the table."""
    bench = ReleaseFanOut(out, server_dir=Path(PROJECT_DIR), deadline=time.monotonic() + timeout, grace=grace,
                          max_wait=max_wait, resume_wait=5.0, client_procs=client_procs, emitters=emitters)
    rows, storm = [], None
    try:
        bench.start(max([*watchers, reconnect]), redis_url=redis_url, temporary_db=temporary_db)
        bench.make_release()
        bench.add_web()
        for count in watchers:
            out(f"  {count} watchers of release {bench.release_id} × {events} events at {rate:g}/s ...")
            rows.append(bench.fanout("fanout", count, events, rate))
        if reconnect:
            out(f"  mass reconnect of {reconnect} release watchers ...")
            storm = bench.reconnect(reconnect, 10, 10.0, 1.0, 30.0, 0.2)
    finally:
        bench.stop()
    print_fanout(out, rows, storm)
    return {"rows": rows, "reconnect": storm}


def print_fanout(out, rows: list[dict], storm: dict | None) -> None:
    out("")
    out("| watchers of one release | events | subscribed | delivered | lost | P50 | P99 | P99 < 200 ms |")
    out("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ok = "yes" if r["p99"] is not None and r["p99"] < TARGET_P99 and not r["lost"] else "**no**"
        out(f"| {r['watchers']:,} | {r['events']} at {r['rate']:g}/s | {r['connected']:,} | "
            f"{r['delivered']:,}/{r['expected']:,} | {r['lost']:,} | {_seconds(r['p50'])} | {_seconds(r['p99'])} | "
            f"{ok} |")
    if storm:
        out(f"\nMass reconnect: {storm['connected']:,}/{storm['watchers']:,} back and subscribed again "
            f"(after {_seconds(storm['all_connected_s'])}); events {storm['delivered']:,}/{storm['expected']:,}, "
            f"{storm['via_resume']:,} replayed at resubscription; caught up after {_seconds(storm['caught_up_s'])}")
    out("Latency: the browser's receive time - sent_at (releases.live.push, right after the transition commits).")


# --- manage.py bench ---------------------------------------------------------------------------

def add_arguments(parser) -> None:
    group = parser.add_argument_group("release (issue 11)")
    group.add_argument("--release-watchers", default="1000",
                       help="comma-separated watcher counts of one release, one row each (default 1000)")
    group.add_argument("--release-events", type=int, default=20, help="events per fan-out row (default 20)")
    group.add_argument("--release-rate", type=float, default=2.0, help="events per second (default 2)")
    group.add_argument("--release-reconnect", type=int, default=0,
                       help="watchers in a mass reconnect row, 0 to skip (default 0)")
    group.add_argument("--release-client-procs", type=int, default=2,
                       help="WebSocket client processes of the fan-out (default 2)")
    group.add_argument("--release-skip", choices=["fanout", "release"], action="append", default=[],
                       help="skip one part (repeatable)")
    from . import bench_release

    bench_release.add_arguments(group)


def run_from_options(options: dict, out=print) -> dict:
    figures: dict = {}
    skip = options.get("release_skip") or []
    if "fanout" not in skip:
        out("(a) Event fan-out of one release")
        watchers = tuple(int(w) for w in str(options.get("release_watchers", "1000")).split(",") if w.strip())
        try:
            figures["fanout"] = run_fanout(out, watchers=watchers, events=options.get("release_events", 20),
                                           rate=options.get("release_rate", 2.0),
                                           reconnect=options.get("release_reconnect", 0),
                                           client_procs=options.get("release_client_procs", 2))
        except Exception as exc:  # BenchError (a child that failed), a missing tool: reported, never raised
            out(f"  fan-out not measured: {exc.__class__.__name__}: {exc}")
    if "release" not in skip:
        out("(b) A release of 1,000 pods on 10 simulated clusters")
        from . import bench_release

        try:
            figures["release"] = bench_release.run_from_options(options, out=out)
        except Exception as exc:  # a missing tool or a failed run is reported, never fails `make bench`
            out(f"  not measured: {exc.__class__.__name__}: {exc}")
    return figures
