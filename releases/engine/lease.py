"""The executor's lease on one release: whoever holds it (and only they) drives the release.

- acquire(): one UPDATE that succeeds only when the release is free (no lease, or an expired
  one) and bumps ``lease_token``; the new token fences every later write of this holder
  (transitions.locked() compares it under the row lock), so a worker that lost its lease
  without knowing (paused by the OS, cut off from the database) can never write again.
- Heartbeat: a thread extending the lease every HEARTBEAT seconds on its own connection, so a
  long cluster call or federation sync in the executor never lets the lease lapse; it notices
  when the lease was taken over (the UPDATE matches no row) and says so (``lost``).
- A SIGKILLed holder stops heartbeating: its lease expires after TTL and the reaper
  (releases.reap, beat every 5 s) hands the release to another worker (DESIGN §5 rule 9).
"""
import logging
import os
import socket
import threading
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import F, Q
from django.utils import timezone

from ..models import Release

logger = logging.getLogger(__name__)


def ttl() -> float:
    return float(getattr(settings, "RELEASE_LEASE_TTL_SECONDS", 10))


def heartbeat_interval() -> float:
    return float(getattr(settings, "RELEASE_LEASE_HEARTBEAT_SECONDS", 2))


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(release_id: int, owner: str, states=None) -> int | None:
    """The new lease token, or None when another holder's lease is still running (or the
    release is not in one of `states`)."""
    now = timezone.now()
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now) | Q(lease_owner=owner)
    rows = Release.objects.filter(free, pk=release_id)
    if states is not None:
        rows = rows.filter(state__in=list(states))
    if not rows.update(lease_owner=owner, lease_expires_at=now + timedelta(seconds=ttl()),
                       lease_token=F("lease_token") + 1):
        return None
    return Release.objects.filter(pk=release_id, lease_owner=owner).values_list("lease_token", flat=True).first()


def extend(release_id: int, token: int) -> bool:
    """Push the expiry out; False when the lease is no longer ours."""
    return bool(Release.objects.filter(pk=release_id, lease_token=token)
                .update(lease_expires_at=timezone.now() + timedelta(seconds=ttl())))


def give_back(release_id: int, token: int) -> None:
    """Free the lease at once (the next kick need not wait for it to expire)."""
    Release.objects.filter(pk=release_id, lease_token=token).update(lease_owner="", lease_expires_at=None)


def expired_driven(limit: int = 100) -> list[int]:
    """Releases the executor should be driving whose lease lapsed (or that nobody took yet)."""
    now = timezone.now()
    driven = Q(state__in=Release.DRIVEN_STATES) | Q(rollback_requested=True, state__in=Release.ACTIVE_STATES)
    return list(Release.objects.filter(driven).filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
                .order_by("pk").values_list("pk", flat=True)[:limit])


class Heartbeat:
    """Extends the lease every interval on a thread (and its own database connection) until stopped."""

    def __init__(self, release_id: int, token: int):
        self.release_id, self.token = release_id, token
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"release-{release_id}-lease", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        misses = 0
        try:
            while not self._stop.wait(heartbeat_interval()):
                try:
                    close_old_connections()
                    if not extend(self.release_id, self.token):
                        logger.warning("release %s: lease %s taken over", self.release_id, self.token)
                        self.lost.set()
                        return
                    misses = 0
                except DatabaseError as exc:
                    # The database is away: the lease runs out on its own if this lasts; the executor's
                    # next fenced write fails and it stops. Nothing to undo.
                    misses += 1
                    logger.warning("release %s: lease heartbeat failed (%s)", self.release_id, exc.__class__.__name__)
                    if misses * heartbeat_interval() >= ttl():
                        self.lost.set()
                        return
        finally:
            connection.close()
