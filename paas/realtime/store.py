"""Reads of the live event log (paas.models.LiveEvent) for gap repair and resume,
and its retention. Async callers use the `a*` wrappers: read-only queries run in
the default thread pool (thread_sensitive=False), not on the one thread that
database_sync_to_async serialises everything else on, so a reconnect storm does
not queue every resume behind one thread."""
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections
from django.utils import timezone


def as_message(event) -> dict:
    """A stored event as the hub's layer message (see emit.to_group)."""
    return {"type": "paas.event", "stream": event.stream, "seq": event.seq,
            "sent_at": event.created_at.timestamp(), "payload": event.payload,
            "permission": event.permission, "users": event.users}


def heads(streams) -> dict[str, int]:
    from paas.models import LiveStream

    found = dict(LiveStream.objects.filter(name__in=list(streams)).values_list("name", "head"))
    return {stream: found.get(stream, 0) for stream in streams}


def between(stream: str, after: int, before: int) -> list[dict]:
    """Events after < seq < before, in order: one query for a whole gap."""
    from paas.models import LiveEvent

    rows = LiveEvent.objects.filter(stream=stream, seq__gt=after, seq__lt=before).order_by("seq")
    return [as_message(event) for event in rows]


def after(stream: str, seq: int, limit: int) -> list[dict]:
    """Up to `limit` events with a larger seq, in order."""
    from paas.models import LiveEvent

    rows = LiveEvent.objects.filter(stream=stream, seq__gt=seq).order_by("seq")[:limit]
    return [as_message(event) for event in rows]


def prune(now=None) -> int:
    """Drop events older than LIVE_EVENTS_RETENTION_SECONDS, and beyond the newest
    LIVE_EVENTS_KEEP per stream. A browser further behind gets `reset` and reloads."""
    from paas.models import LiveEvent, LiveStream

    now = now or timezone.now()
    deleted, _ = LiveEvent.objects.filter(
        created_at__lt=now - timedelta(seconds=settings.LIVE_EVENTS_RETENTION_SECONDS)).delete()
    keep = settings.LIVE_EVENTS_KEEP
    for name, head in LiveStream.objects.filter(head__gt=keep).values_list("name", "head"):
        deleted += LiveEvent.objects.filter(stream=name, seq__lte=head - keep).delete()[0]
    return deleted


def pooled(func):
    """`func` as a coroutine run in the thread pool (one database connection per thread).
    SQLite (development) keeps the single thread: it has one writer; so do tests
    (LIVE_DB_POOL off: a pool thread's connection would not see their transaction)."""
    in_pool = database_sync_to_async(func, thread_sensitive=False)
    serial = database_sync_to_async(func)

    async def call(*args, **kwargs):
        pool = settings.LIVE_DB_POOL and connections["default"].vendor != "sqlite"
        run = in_pool if pool else serial
        return await run(*args, **kwargs)

    return call


aheads = pooled(heads)
abetween = pooled(between)
aafter = pooled(after)
