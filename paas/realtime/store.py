"""Reads of the live event log (paas.models.LiveEvent) for gap repair and resume,
and its retention. Async callers use the `a*` wrappers: read-only queries run in
the default thread pool (thread_sensitive=False), not on the one thread that
database_sync_to_async serialises everything else on, so a reconnect storm does
not queue every resume behind one thread.

Streams whose numbered log lives elsewhere have a source of their own (SOURCES: a name
prefix -> a module with heads/between/after, imported when first used): a release's
events are its ReleaseEvent rows (releases/live.py), numbered by the release itself."""
from datetime import timedelta
from functools import cache

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections
from django.utils import timezone
from django.utils.module_loading import import_module

SOURCES = {"release.": "releases.live"}


@cache
def _module(path: str):
    return import_module(path)


def source_of(stream: str):
    """The module reading `stream`'s own log, None for the generic log (LiveEvent)."""
    for prefix, path in SOURCES.items():
        if isinstance(stream, str) and stream.startswith(prefix):
            return _module(path)
    return None


def as_message(event) -> dict:
    """A stored event as the hub's layer message (see emit.to_group)."""
    return {"type": "paas.event", "stream": event.stream, "seq": event.seq,
            "sent_at": event.created_at.timestamp(), "payload": event.payload,
            "permission": event.permission, "users": event.users}


def heads(streams) -> dict[str, int]:
    from paas.models import LiveStream

    streams = list(streams)
    by_source: dict = {}
    for stream in streams:
        by_source.setdefault(source_of(stream), []).append(stream)
    found = {}
    for source, names in by_source.items():  # one query per kind of stream
        if source is None:
            found.update(LiveStream.objects.filter(name__in=names).values_list("name", "head"))
        else:
            found.update(source.heads(names))
    return {stream: found.get(stream, 0) for stream in streams}


def between(stream: str, after: int, before: int) -> list[dict]:
    """Events after < seq < before, in order: one query for a whole gap."""
    from paas.models import LiveEvent

    if (source := source_of(stream)) is not None:
        return source.between(stream, after, before)

    rows = LiveEvent.objects.filter(stream=stream, seq__gt=after, seq__lt=before).order_by("seq")
    return [as_message(event) for event in rows]


def after(stream: str, seq: int, limit: int) -> list[dict]:
    """Up to `limit` events with a larger seq, in order."""
    from paas.models import LiveEvent

    if (source := source_of(stream)) is not None:
        return source.after(stream, seq, limit)

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


def stream_tenant(stream: str) -> int | None:
    """The tenant owning a stream subscribed on request (release.<id>), None when unknown."""
    source = source_of(stream)
    return source.tenant_of(stream) if source is not None else None


astream_tenant = pooled(stream_tenant)
