"""A Celery worker SIGKILLed in the middle of a sync: once another worker is up,
everything converges within 30 s (with the 150 s cache lock it took 172–236 s).

Real processes: Celery workers as child processes on the real broker, this test
playing beat (federation.tick every second), the simulator with latency so that
the sync is still running when the worker is killed. Needs a database and a Redis
that child processes share: PostgreSQL and REDIS_URL (CI), skipped otherwise.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from clusters.federation import services, tasks
from clusters.federation.models import Propagation
from paas import locks

from .conftest import SYSTEM, deployment, sim_admin

pytestmark = [pytest.mark.services]

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = 24
CONVERGE_SECONDS = 30


@pytest.fixture
def shared_services(transactional_db):
    if connection.vendor != "postgresql" or not settings.REDIS_URL.startswith("redis://"):
        if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
            pytest.fail("DATABASE_URL/REDIS_URL are set but not PostgreSQL/redis://")
        pytest.skip("needs PostgreSQL and Redis shared with child processes (DATABASE_URL, REDIS_URL)")
    # An earlier transactional test may have flushed the rows the migrations seed.
    import importlib

    from django.apps import apps

    importlib.import_module("clusters.federation.migrations.0002_builtin_types").seed(apps, None)


def start_worker(queues: str) -> subprocess.Popen:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": settings.REDIS_URL, "PYTHONUNBUFFERED": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)  # REDIS_URL above is already this test worker's database
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "celery", "-A", "paas", "worker", "-Q", queues, "-c", "1", "-l", "WARNING",
         "--without-gossip", "--without-mingle", "-n", f"killtest-{time.monotonic_ns()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the main process and its pool child, as the OOM killer might
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def sync_running(cluster_id: int) -> bool:
    with locks.held(tasks.lock_name("sync"), cluster_id) as acquired:
        return not acquired


def play_beat_until(predicate, timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        tasks.tick()
        time.sleep(1)
    return None


def test_sigkilled_worker_mid_sync_converges_within_30s_of_a_new_worker(shared_services, topology, ftypes):
    cluster = topology["clusters"]["fed-a1"]
    queues = ",".join(sorted({c.cell.queue for c in topology["clusters"].values()}))
    sim_admin(topology["server"], "fed-a1", {"latency_ms": 400})  # a sync of fed-a1 takes seconds
    first = start_worker(queues)
    try:
        for i in range(RESOURCES):
            services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                               ftype=ftypes["Deployment"], name=f"app-{i}",
                                               template=deployment(f"app-{i}"))
        assert play_beat_until(lambda: sync_running(cluster.pk), 60) is not None, "the sync never started"
        time.sleep(1)  # well inside the sync
    finally:
        kill(first)
    assert Propagation.objects.filter(cluster=cluster, dirty=True).exists(), "the sync finished before the kill"
    sim_admin(topology["server"], "fed-a1", {"latency_ms": 0})

    second = start_worker(queues)
    try:
        took = play_beat_until(lambda: not Propagation.objects.filter(dirty=True).exists(), 120)
    finally:
        kill(second)
    print(f"\nconverged {took}s after a new worker was started (SIGKILLed worker mid-sync)")
    assert took is not None and took < CONVERGE_SECONDS, f"converged after {took}s"
