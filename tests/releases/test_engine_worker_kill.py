"""A Celery worker SIGKILLed in the middle of a batch: the reaper (played here every second, as
beat would every 5 s) hands the release to another worker once the lease expires, the release
resumes within 30 s and finishes, and every pod was restarted exactly once (the resumed executor
reads the clusters first: a pod already on the update revision is never touched again).

Real processes: Celery workers on the real broker, the simulator in this process. Needs
PostgreSQL and Redis shared with the child processes (DATABASE_URL, REDIS_URL), skipped otherwise.
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

from releases import tasks
from releases.models import Release, ReleaseEvent
from tests.federation.conftest import fedsim, topology, wait_for  # noqa: F401 (fixtures: the simulator)

from .engine_support import assert_gap_free, create, deploy, pods, restarts

pytestmark = [pytest.mark.services]
ROOT = Path(__file__).resolve().parents[2]
RESUME_SECONDS = 30


def start_worker() -> subprocess.Popen:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": settings.REDIS_URL, "PYTHONUNBUFFERED": "1",
           "RELEASE_LEASE_TTL_SECONDS": "6",
           # The registry the test's images come from: the workers render the same pull secret.
           "REGISTRY_HOST": settings.REGISTRY_HOST}
    env.pop("PYTEST_XDIST_WORKER", None)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "celery", "-A", "paas", "worker", "-Q", "default", "-c", "1", "-l", "WARNING",
         "--without-gossip", "--without-mingle", "-n", f"releasekill-{time.monotonic_ns()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the main process and its pool child, as the OOM killer might
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def test_sigkilled_worker_mid_batch_resumes_within_30s_and_restarts_no_pod_twice(engine_env, tenant, monkeypatch):
    if not settings.REDIS_URL.startswith("redis://"):
        pytest.skip("needs a Redis shared with the worker processes (REDIS_URL)")
    app, instance, second = deploy(tenant, monkeypatch)
    before = pods()
    first = start_worker()
    try:
        release = create(instance, second, drain_seconds=1.5, warmup_seconds=0.5)  # kicks on commit
        # Mid-batch: the cell-a step (4 pods) has pods out of traffic, none of them back yet.
        wait_for(lambda: ReleaseEvent.objects.filter(release=release, kind="pod.state", data__state="draining")
                 .exclude(data__cluster_slug="fed-b1").count() >= 3, timeout=60, interval=0.05,
                 message="the cell-a batch under way")
    finally:
        kill(first)
    killed_at, last_seq = time.monotonic(), Release.objects.get(pk=release.pk).last_seq
    assert Release.objects.get(pk=release.pk).state == Release.State.RUNNING

    second_worker = start_worker()
    try:
        resumed = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            tasks.reap()  # beat
            state = Release.objects.get(pk=release.pk)
            if resumed is None and state.last_seq > last_seq:
                resumed = time.monotonic() - killed_at
            if state.state != Release.State.RUNNING:
                break
            time.sleep(1)
    finally:
        kill(second_worker)
    release.refresh_from_db()
    print(f"\nresumed {resumed:.1f}s after the SIGKILL; release {release.state}")
    assert resumed is not None and resumed < RESUME_SECONDS, resumed
    assert release.state == Release.State.SUCCEEDED, release.reason
    after = pods()
    assert set(after) == set(before)
    assert {k: restarts(p) - restarts(before[k]) for k, p in after.items()} == {k: 1 for k in before}
    assert_gap_free(release)
