"""The base every Celery task of the product uses.

Tasks are thin: they take primary keys, re-read rows (returning quietly when a
row is gone), and call services with an explicit system actor. The base class
gives them what a task on a shared broker needs to be safe to run twice:

- `acks_late` + `reject_on_worker_lost`: a task whose worker dies is delivered
  again, so the work it calls must be idempotent (services are).
- bounded retries with exponential backoff, for transient failures only (the
  database or the broker going away for a moment), never for domain errors;
- finite soft and hard time limits, so a stuck call cannot hold a worker forever;
- the task id as the request id in the log lines and audit events it produces.

`enqueue()` sends a task without letting a broker outage fail the caller: the
change that asked for the task is already committed, and the beat jobs that look
for due work in the database pick it up once the broker is back.
"""
import logging

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from paas import context

logger = logging.getLogger(__name__)

#: Failures worth retrying: the same call is expected to succeed a moment later.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError, InterfaceError, ConnectionError, TimeoutError,
)


class PaasTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = True  # 1s, 2s, 4s, ... with jitter
    # Also bounds how long a worker holds a retried message before running it, which the
    # broker's visibility timeout must outlast (settings.CELERY_BROKER_VISIBILITY_TIMEOUT).
    retry_backoff_max = settings.TASK_RETRY_BACKOFF_MAX
    retry_jitter = True
    max_retries = 5
    soft_time_limit = 240
    time_limit = 300

    def __call__(self, *args, **kwargs):
        with context.bind(request_id=self.request.id or context.new_request_id()):
            return super().__call__(*args, **kwargs)


class ClusterTask(PaasTask):
    """For tasks that call a member cluster's API: shorter limits, so a cluster that
    stops answering frees the worker well before the broker's visibility timeout."""

    soft_time_limit = 120
    time_limit = 150


def idempotent_task(*args, **options):
    """`@idempotent_task` or `@idempotent_task(name=..., ...)`: a shared task on PaasTask."""
    options.setdefault("base", PaasTask)
    return shared_task(*args, **options)


def cluster_task(*args, retry_on: tuple[type[BaseException], ...] = (), **options):
    """Like `idempotent_task`, on ClusterTask; `retry_on` adds the cluster client's
    transient errors (e.g. 429/5xx answers) to those retried with backoff."""
    options.setdefault("base", ClusterTask)
    if retry_on:
        options.setdefault("autoretry_for", TRANSIENT_ERRORS + tuple(retry_on))
    return shared_task(*args, **options)


@idempotent_task(name="paas.tasks.flush_login_failures")
def flush_login_failures() -> int:
    """Beat: audit the failed sign-ins counted in windows that have passed (paas.lockout)."""
    from paas import lockout

    return lockout.flush()

def enqueue(task, *, args=(), kwargs=None, **options) -> bool:
    """`task.apply_async(...)`, except that a broker that cannot be reached is logged and
    counted (paas_task_enqueue_failures in /metrics) instead of raised; returns whether
    the message was sent. Only for work that a periodic job finds again in the database."""
    try:
        if kwargs:
            options["kwargs"] = kwargs
        task.apply_async(args=list(args), **options)
    except Exception as exc:  # kombu raises OperationalError, redis-py its own: all mean "not sent"
        logger.warning("broker unavailable: %s not enqueued (%s); the periodic job will pick the work up",
                       task.name, exc.__class__.__name__)
        try:
            from clusters.federation.metrics import ENQUEUE_FAILURES

            ENQUEUE_FAILURES.labels(task.name).inc()
        except Exception:  # noqa: S110 - metrics are best effort, the warning above is logged
            pass
        return False
    return True


@idempotent_task(name="paas.tasks.prune_live_events")
def prune_live_events() -> int:
    """Beat: drop live events older than the retention (a browser further behind reloads)."""
    from paas.realtime import store

    return store.prune()
