"""Celery tasks of builds (thin: take ids, call the runner or the reaper).

- builds.run (queue "builds", by the "builds.*" route): one run of one build. acks_late
  and reject_on_worker_lost, so a killed worker's message comes back; the claim makes a
  re-delivered message for a build that is running elsewhere (fresh heartbeat) or
  finished a no-op. Its soft/hard time limits sit just above BUILD_TIME_LIMIT_SECONDS,
  which the run enforces itself between steps; the hard limit (a builder stuck in a call)
  ends the process and the reaper fails the build.
- builds.reap (beat, every 30 s): see reaper.py.
"""
from django.conf import settings

from paas.tasks import PaasTask, idempotent_task


class BuildTask(PaasTask):
    # A failed build is an answer, not a transient error: no automatic retries of the whole run.
    autoretry_for = ()
    max_retries = 0
    soft_time_limit = settings.BUILD_TIME_LIMIT_SECONDS + 15
    time_limit = settings.BUILD_TIME_LIMIT_SECONDS + 45


@idempotent_task(name="builds.run", base=BuildTask)
def run(build_id: int) -> str:
    from .runner import run as run_build

    return run_build(int(build_id))


@idempotent_task(name="builds.reap", soft_time_limit=50, time_limit=60)
def reap() -> dict:
    from .reaper import reap as reap_builds

    return reap_builds()
