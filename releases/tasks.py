"""Celery tasks of releases (thin: take ids, call the executor).

- releases.advance: drive one release while its lease is held (releases/engine/executor.py).
  acks_late (a killed worker's message comes back), bounded retries on transient errors (the
  database or broker away for a moment: the lease expires, the state is in the database), a long
  time limit because one run drives a whole release; a duplicate message finds the lease taken
  and returns at once.
- releases.reap (beat, every 5 s): re-kick driven releases whose lease expired (their worker was
  SIGKILLed, or the kick was lost while the broker was down).
"""
from paas.tasks import PaasTask, enqueue, idempotent_task


class AdvanceTask(PaasTask):
    max_retries = 10
    soft_time_limit = 3600
    time_limit = 3660


@idempotent_task(name="releases.advance", base=AdvanceTask, bind=True)
def advance(self, release_id: int) -> str:
    from .engine.executor import advance as run
    from .engine.lease import new_owner

    # The same owner on a retry of this message, so it takes its own unexpired lease back.
    owner = f"{new_owner().rsplit(':', 1)[0]}:{self.request.id or ''}"
    return run(int(release_id), owner=owner)


@idempotent_task(name="releases.reap", soft_time_limit=20, time_limit=30)
def reap() -> list[int]:
    from .engine.lease import expired_driven

    kicked = expired_driven()
    for release_id in kicked:
        enqueue(advance, args=(release_id,))
    return kicked
