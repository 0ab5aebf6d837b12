"""Pointing the test process's Celery app at another broker, and back."""
from kombu import pools

from paas.celery import app as celery_app


def reset_broker_connections() -> None:
    """Drop the app's connection and producer pools so the next send uses the current broker URL.

    kombu also keeps producer pools in a process-wide registry keyed by connection: left
    there, the one closed here comes back for the same URL later and every send fails with
    "Acquire on closed pool" (seen as a sync never enqueued in a later test), so reset it too.
    """
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    pools.reset()
