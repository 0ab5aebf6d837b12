"""Prometheus metrics of the federation engine, served at /metrics.

Counters and the latency histogram live in this module's own CollectorRegistry
(they are incremented by whichever process syncs). With PROMETHEUS_MULTIPROC_DIR
set (web, workers and beat as separate processes), values are shared through
prometheus_client's multiprocess files. Queue depth and rows per state are read
from the database at scrape time, so they are right whichever process serves.

Nothing here carries tenant data (only counts, labels limited to operation/state
names), and still only a scraper may read it: with METRICS_TOKEN set, a request
must bring it as a bearer token; without it, only loopback and signed-in platform
operators are served.
"""
import hmac
import ipaddress
import os

from django.db.models import Count, Q
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from paas.context import client_ip

REGISTRY = CollectorRegistry(auto_describe=True)

WRITES = Counter("paas_federation_writes", "Objects written to member clusters (apply or delete).",
                 ["operation"], registry=REGISTRY)
ERRORS = Counter("paas_federation_errors", "Failed writes to member clusters.", ["operation"], registry=REGISTRY)
RETRIES = Counter("paas_federation_retries", "Propagations scheduled for another attempt with backoff.",
                  registry=REGISTRY)
TASK_RETRIES = Counter("paas_federation_task_retries", "Celery retries of federation tasks.", ["task"],
                       registry=REGISTRY)
ENQUEUE_FAILURES = Counter("paas_task_enqueue_failures",
                           "Tasks not sent because the broker was unreachable (picked up later by beat).",
                           ["task"], registry=REGISTRY)
SKIPPED = Counter("paas_federation_unchanged", "Propagations found unchanged (no API call made).",
                  registry=REGISTRY)
LATENCY = Histogram("paas_federation_propagation_latency_seconds",
                    "From a change being saved to it being applied in a member cluster.",
                    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600), registry=REGISTRY)


class DatabaseCollector:
    """Gauges computed from the propagation table at scrape time."""

    def describe(self):
        return []

    def collect(self):
        from .models import Propagation

        now = timezone.now()
        depth = GaugeMetricFamily("paas_federation_queue_depth",
                                  "Dirty propagations due for a sync attempt now.")
        due = Q(dirty=True) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        depth.add_metric([], Propagation.objects.filter(due).count())
        yield depth
        states = GaugeMetricFamily("paas_federation_propagations", "Propagation rows per state.", labels=["state"])
        counts = dict(Propagation.objects.values_list("state").annotate(n=Count("id")))
        for state in Propagation.State.values:
            states.add_metric([state], counts.get(state, 0))
        yield states


REGISTRY.register(DatabaseCollector())


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(DatabaseCollector())
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def scrape_allowed(request) -> tuple[bool, int]:
    """(allowed, status to answer otherwise) for a scrape request."""
    from django.conf import settings

    from paas.actors import Actor
    from paas.permissions import can_platform

    expected = settings.METRICS_TOKEN
    if expected:
        scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(presented.encode(), expected.encode())
        return ok, 401
    try:
        # client_ip: behind a local proxy every request arrives from loopback.
        loopback = ipaddress.ip_address(client_ip(request.META) or "").is_loopback
    except ValueError:
        loopback = False
    user = getattr(request, "user", None)
    operator = user is not None and user.is_authenticated and can_platform(
        Actor.for_user(user), "clusters.view_cluster")
    return loopback or operator, 403


@require_GET
def metrics_view(request):
    allowed, status = scrape_allowed(request)
    if not allowed:
        response = HttpResponse("metrics: not permitted\n", status=status, content_type="text/plain")
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
