"""A Celery worker SIGKILLed in the middle of a build (real processes: workers on the real
broker, the test playing beat by calling the reaper): the build is retried once on another
worker and succeeds; killed twice, it is failed ("worker lost twice"). Never left running.

Needs a database and a Redis shared with child processes: PostgreSQL and REDIS_URL (CI),
skipped otherwise. The workers build with the fake builder (tests/builds/fakes.py), slowly.
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

from applications.builds import reaper, services
from applications.builds.models import Build, BuildLogLine
from paas.actors import Actor
from tests.factories import UserFactory, add_member, make_tenant

from .conftest import DOCKERFILE, store_artifact

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
LOST_AFTER = 4


@pytest.fixture
def shared_services(transactional_db, settings):
    if connection.vendor != "postgresql" or not (settings.REDIS_URL or "").startswith("redis://"):
        if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
            pytest.fail("DATABASE_URL/REDIS_URL are set but not PostgreSQL/redis://")
        pytest.skip("needs PostgreSQL and Redis shared with child processes (DATABASE_URL, REDIS_URL)")
    settings.BUILD_LOST_AFTER_SECONDS = LOST_AFTER


def start_worker(tmp_path, *, sleep: float, steps: int) -> subprocess.Popen:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": settings.REDIS_URL, "PYTHONUNBUFFERED": "1",
           "BUILDER": "tests.builds.fakes.fake_build_image", "FAKE_BUILDER_SLEEP": str(sleep),
           "FAKE_BUILDER_STEPS": str(steps), "FAKE_BUILDER_CLIENTS": "0", "BUILD_HEARTBEAT_SECONDS": "1",
           "BUILD_LOST_AFTER_SECONDS": str(LOST_AFTER), "BUILD_ARTIFACT_DIR": str(settings.BUILD_ARTIFACT_DIR),
           "PAAS_VAR_DIR": str(tmp_path / "var")}
    env.pop("PYTEST_XDIST_WORKER", None)  # REDIS_URL above is already this test worker's database
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "celery", "-A", "paas", "worker", "-Q", "builds", "-c", "1", "-l", "WARNING",
         "--without-gossip", "--without-mingle", "-n", f"buildkill-{time.monotonic_ns()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the main process and its pool child, as the OOM killer might
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def wait_for(predicate, timeout: float, *, beat: bool = False):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if beat:
            reaper.reap()
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    return None


def state(build) -> Build:
    return Build.objects.get(pk=build.pk)


def texts(build) -> list[str]:
    return list(BuildLogLine.objects.filter(build=build).order_by("number").values_list("text", flat=True))


@pytest.fixture
def build(shared_services):
    tenant = make_tenant("acme")
    dev = UserFactory(username="dev")
    add_member(tenant, dev, "developer")
    from applications.models import Application, DockerfileVersion

    app = Application.objects.create(tenant=tenant, name="payments-api")
    dockerfile = DockerfileVersion.objects.create(application=app, number=1, content=DOCKERFILE)
    return services.build_start(actor=Actor.for_user(dev), application=app, dockerfile=dockerfile,
                                artifact=store_artifact(app), tag="1.0.0")


def kill_mid_build(tmp_path, build) -> None:
    runs = sum(t.startswith("Adding layer 2 ") for t in texts(build))
    worker = start_worker(tmp_path, sleep=1, steps=60)
    try:
        assert wait_for(lambda: sum(t.startswith("Adding layer 2 ") for t in texts(build)) > runs, 60), \
            f"the build never got going: {state(build).state} {texts(build)}"
    finally:
        kill(worker)
    assert state(build).state == Build.State.RUNNING


def test_a_killed_workers_build_is_retried_once_and_succeeds(tmp_path, build):
    kill_mid_build(tmp_path, build)
    # Beat's reaper: once the heartbeat is LOST_AFTER old, back to the queue and sent again.
    assert wait_for(lambda: state(build).state == Build.State.QUEUED, 30, beat=True)
    assert "worker lost; retrying" in texts(build)
    worker = start_worker(tmp_path, sleep=0.05, steps=3)
    try:
        done = wait_for(lambda: state(build).finished, 60)
    finally:
        kill(worker)
    final = state(build)
    assert done and final.state == Build.State.SUCCEEDED, (final.state, final.error, texts(build))
    assert final.attempts == 2 and final.image_digest
    numbers = list(BuildLogLine.objects.filter(build=build).order_by("number").values_list("number", flat=True))
    assert numbers == list(range(1, final.log_lines + 1))


def test_killed_twice_it_is_failed(tmp_path, build):
    kill_mid_build(tmp_path, build)
    assert wait_for(lambda: state(build).state == Build.State.QUEUED, 30, beat=True)
    kill_mid_build(tmp_path, build)  # the retry's worker is killed as well
    assert wait_for(lambda: state(build).finished, 30, beat=True)
    final = state(build)
    assert final.state == Build.State.FAILED and final.error.startswith("Worker lost twice")
    assert texts(build)[-1] == "worker lost twice; the build has failed"


def test_a_slow_silent_step_is_kept_alive_by_the_heartbeat(tmp_path, build):
    """A step longer than BUILD_LOST_AFTER_SECONDS without a log line (a large push): the
    heartbeat thread keeps the build from being taken for lost while beat runs the reaper."""
    worker = start_worker(tmp_path, sleep=LOST_AFTER * 2, steps=1)
    try:
        done = wait_for(lambda: state(build).finished, 60, beat=True)
    finally:
        kill(worker)
    final = state(build)
    assert done and final.state == Build.State.SUCCEEDED, (final.state, final.error)
    assert final.attempts == 1 and "worker lost; retrying" not in texts(build)
