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
"""
from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from paas import context

#: Failures worth retrying: the same call is expected to succeed a moment later.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError, InterfaceError, ConnectionError, TimeoutError,
)


class PaasTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = True  # 1s, 2s, 4s, ... with jitter
    retry_backoff_max = 300
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
