"""Liveness (/healthz) and readiness (/readyz) for load balancers and orchestrators.

- /healthz: the process is up and serving. Nothing else is checked, so a database or
  Redis outage never makes an orchestrator restart healthy web processes.
- /readyz: each dependency, checked now with a short timeout: database, cache,
  Celery broker, channel layer; its status, latency and, on failure, only the
  exception's class name (no hostnames, URLs or passwords). 200 when every
  dependency named in settings.READINESS_REQUIRED is ok (the database, by default:
  without Redis the portal degrades but serves), else 503.

Neither needs authentication: both are what a probe sees, and say nothing secret.
"""
import time
import uuid

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

BROKER_TIMEOUT_SECONDS = 2.0


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, 1, timeout=5)
    if cache.get(key) != 1:
        raise LookupError("cache did not return what was written")
    cache.delete(key)


def check_broker() -> None:
    from paas.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)


def check_channel_layer() -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        raise LookupError("no channel layer configured")
    # A send to a group nobody is in: a round trip to Redis that leaves nothing behind.
    async_to_sync(layer.group_send)("readyz", {"type": "readyz.probe"})


CHECKS = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "channel_layer": check_channel_layer,
}


def run_checks() -> tuple[bool, dict]:
    required = set(settings.READINESS_REQUIRED)
    results, ready = {}, True
    for name, check in CHECKS.items():
        start = time.monotonic()
        try:
            check()
        except Exception as exc:  # any failure is "not ok"; the class name is all that is shown
            result = {"status": "error", "error": exc.__class__.__name__}
            ready = ready and name not in required
        else:
            result = {"status": "ok"}
        result["required"] = name in required
        result["latency_ms"] = round((time.monotonic() - start) * 1000, 1)
        results[name] = result
    return ready, results


@require_GET
@never_cache
def healthz(request):
    """Liveness: this process answers. Dependencies are /readyz's business."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request):
    ready, checks = run_checks()
    degraded = any(c["status"] != "ok" for c in checks.values())
    status = "unavailable" if not ready else "degraded" if degraded else "ok"
    return JsonResponse({"status": status, "checks": checks}, status=200 if ready else 503)
