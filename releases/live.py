"""Pushing release events to the browsers watching one release: the stream ``release.<id>``.

A release's events are numbered by ``ReleaseEvent.seq`` (releases/events.py: gap-free, in
commit order) rather than by the generic live log (paas.models.LiveEvent): the event log *is*
the stream log. So this module is also the stream source the live hub reads for these
streams (heads for gap repair and resume, events between two numbers): paas.realtime.store
hands every ``release.`` stream here.

Who may watch: decided by the consumer when a browser subscribes (the release's tenant is
looked up once; the user's access snapshot must hold view_tenant there), re-checked when the
user's access changes, and per delivery from that snapshot in memory (paas.realtime.hub).

push() runs after the transition committed (transaction.on_commit) and never raises: with
Redis down the event is only stored, and browsers fill the gap from the log later.
"""
import logging
import re
import time

logger = logging.getLogger(__name__)

PREFIX = "release."
EVENT_TYPE = "release.event"  # the frame's "type": notifications.js routes these to release-live.js
_STREAM = re.compile(r"^release\.([1-9][0-9]{0,17})$")


def release_group(release_id: int) -> str:
    return f"{PREFIX}{release_id}"


def release_id_of(stream: str) -> int | None:
    """The release id of a well-formed stream name; None for anything else (hostile input too)."""
    match = _STREAM.match(stream) if isinstance(stream, str) else None
    return int(match.group(1)) if match else None


def frame_payload(event: dict) -> dict:
    """What a browser receives for one event, live or replayed (the same dict both ways)."""
    return {**event, "type": EVENT_TYPE}


def _message(release_id: int, event: dict, sent_at: float) -> dict:
    from paas.realtime.emit import EVENT_HANDLER

    # Every watcher of the stream may see every event (the permission was checked at subscription).
    return {"type": EVENT_HANDLER, "stream": release_group(release_id), "seq": event["seq"], "sent_at": sent_at,
            "payload": frame_payload(event), "permission": "", "users": []}


def push_many(tenant_id: int, release_id: int, payloads: list[dict]) -> None:
    """push() for many events, in their order, with one hop into the channel layer's event loop
    (async_to_sync per event cost a few milliseconds each)."""
    if not payloads:
        return
    try:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        group = release_group(release_id)

        async def send_all():
            for payload in payloads:
                await layer.group_send(group, _message(release_id, payload, time.time()))

        async_to_sync(send_all)()
    except Exception as exc:  # never break the transition that already committed
        logger.warning("release %s events %s-%s not pushed (%s): stored, watchers fill the gap", release_id,
                       payloads[0].get("seq"), payloads[-1].get("seq"), exc.__class__.__name__)


def push(tenant_id: int, release_id: int, payload: dict) -> None:
    """Hand one committed event to the channel layer; a failure (Redis down) loses nothing:
    the event is stored and a watcher fetches it after the gap it sees."""
    try:
        from paas.realtime.emit import _send

        _send(release_group(release_id), _message(release_id, payload, time.time()))
    except Exception as exc:  # never break the transition that already committed
        logger.warning("release %s event %s not pushed (%s): stored, watchers fill the gap",
                       release_id, payload.get("seq"), exc.__class__.__name__)


# --- the stream source read by paas.realtime.store (heads, gaps, resume) -------------------

def tenant_of(stream: str) -> int | None:
    """The tenant owning the release behind `stream` (one query), None when there is none."""
    from .models import Release

    release_id = release_id_of(stream)
    if release_id is None:
        return None
    return Release.objects.filter(pk=release_id).values_list("tenant_id", flat=True).first()


def heads(streams) -> dict[str, int]:
    from .models import Release

    ids = {stream: release_id_of(stream) for stream in streams}
    found = dict(Release.objects.filter(pk__in=[i for i in ids.values() if i]).values_list("pk", "last_seq"))
    return {stream: found.get(release_id, 0) for stream, release_id in ids.items()}


def _messages(stream: str, limit: int | None = None, **seq_filter) -> list[dict]:
    from .models import ReleaseEvent

    release_id = release_id_of(stream)
    if release_id is None:
        return []
    rows = ReleaseEvent.objects.filter(release_id=release_id, **seq_filter).order_by("seq")
    if limit is not None:
        rows = rows[:limit]
    return [_message(release_id, event.as_dict(), event.created_at.timestamp()) for event in rows]


def between(stream: str, after: int, before: int) -> list[dict]:
    """Events after < seq < before, in order: one query for a whole gap."""
    return _messages(stream, seq__gt=after, seq__lt=before)


def after(stream: str, seq: int, limit: int) -> list[dict]:
    """Up to `limit` events with a larger seq, in order (resume, subscribe with `after`)."""
    return _messages(stream, limit, seq__gt=seq)
