"""The builds reaper (beat, every 30 s): no build is left running or queued forever.

- running past its time limit (plus a grace for the worker to notice by itself): failed;
- running with a heartbeat older than BUILD_LOST_AFTER_SECONDS (its worker was killed or
  lost its connection): back to the queue once ("worker lost; retrying"), failed the
  second time ("worker lost twice");
- queued and not taken by a worker for BUILD_REQUEUE_AFTER_SECONDS (the message was lost,
  or the broker was down when it was sent): sent again.
Each decision is taken again under the build's row lock (progress.*), so the reaper and a
worker finishing at the same moment never both win.
"""
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from . import progress
from .models import Build

GRACE_SECONDS = 30


def reap(now=None) -> dict:
    now = now or timezone.now()
    limit = settings.BUILD_TIME_LIMIT_SECONDS
    running = Build.objects.filter(state=Build.State.RUNNING)
    overdue = running.filter(started_at__lt=now - timedelta(seconds=limit + GRACE_SECONDS))
    failed = sum(progress.fail_overdue(pk, limit) for pk in overdue.values_list("pk", flat=True))

    stale = now - timedelta(seconds=settings.BUILD_LOST_AFTER_SECONDS)
    lost = running.filter(Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, started_at__lt=stale))
    outcomes = [progress.requeue_lost(pk) for pk in lost.values_list("pk", flat=True)]

    waiting = now - timedelta(seconds=settings.BUILD_REQUEUE_AFTER_SECONDS)
    queued = Build.objects.filter(state=Build.State.QUEUED).filter(
        Q(enqueued_at__lt=waiting) | Q(enqueued_at__isnull=True, created_at__lt=waiting))
    resent = sum(progress.resend_queued(pk) for pk in queued.values_list("pk", flat=True))
    return {"timed_out": failed, "retried": outcomes.count(Build.State.QUEUED),
            "lost_failed": outcomes.count(Build.State.FAILED), "resent": resent}
