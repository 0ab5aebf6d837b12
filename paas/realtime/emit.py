"""Live events: numbered, stored, and pushed to Channels groups only after the
transaction commits, so a browser never sees a change that was rolled back.

Every event belongs to a stream ("tenant.12"; later "release.7"). When the emitting
transaction commits, the event gets the stream's next sequence number and is stored
(paas.models.LiveStream / LiveEvent, in one short transaction: numbers are gap-free),
so a browser that missed it fetches it again, and is handed to the channel layer
with its seq and `sent_at`.

A message on the layer carries the payload (what the browser receives, plus a
unique "id") and who may receive it (`permission`, `users`). The per-process hub
(paas.realtime.hub) checks that against each connection's access snapshot, taken
at subscription time and refreshed when `access_changed()` is pushed for a user.
"""
import logging
import time
import uuid
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

EVENT_HANDLER = "paas.event"  # what the hub dispatches on
ACCESS_HANDLER = "paas.access"


def tenant_group(tenant_id: int) -> str:
    return tenant_stream(tenant_id)


def tenant_stream(tenant_id: int) -> str:
    return f"tenant.{tenant_id}"


def user_group(user_id: int) -> str:
    """Control messages about one user's access (see access_changed)."""
    return f"live-user.{user_id}"


def _send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception as exc:  # a dead channel layer must never break the write that already committed
        # One line, no traceback: while Redis is down this happens on every write. The event
        # itself is stored: browsers fetch it when they reconnect.
        logger.warning("live event to %s not delivered: channel layer unavailable (%s)", group,
                       exc.__class__.__name__)


def _next_seq(stream: str) -> int:
    """Increment the stream's head and return it; the row stays locked until commit."""
    from paas.models import LiveStream

    table = connection.ops.quote_name(LiveStream._meta.db_table)
    # The table name comes from the model, the stream name is a parameter.
    sql = f"INSERT INTO {table} (name, head) VALUES (%s, 1) ON CONFLICT (name) DO UPDATE SET head = {table}.head + 1 RETURNING head"  # noqa: E501, S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [stream])
        return cursor.fetchone()[0]


def to_group(stream: str, payload: dict, *, permission: str | None = None, users: Iterable[int] = ()) -> None:
    """Publish `payload` on `stream` once the current transaction commits (at once without one).

    `permission` (a tenants.roles codename) limits delivery to connections whose
    user holds it on the stream's tenant; `users` (ids) receive it regardless,
    e.g. the owner of the token an event is about.
    """
    payload = {**payload, "id": uuid.uuid4().hex}
    users = sorted({int(u) for u in users})
    transaction.on_commit(lambda: publish(stream, payload, permission or "", users))


def publish(stream: str, payload: dict, permission: str = "", users: list[int] = ()) -> int | None:
    """Number and store the event in a transaction of its own, then hand it to the layer.

    Numbered after the change commits, not inside its transaction: holding the stream's
    head row until a long transaction ends would serialise every writer of the tenant,
    and two transactions emitting to the same streams in different orders (two federation
    syncs, say) would deadlock. The short transaction keeps numbers gap-free and in
    the order events are published."""
    from paas.models import LiveEvent

    try:
        with transaction.atomic():
            seq = _next_seq(stream)
            LiveEvent.objects.create(stream=stream, seq=seq, payload=payload, permission=permission,
                                     users=list(users), created_at=timezone.now())
    except DatabaseError as exc:  # the change itself is committed: count and log, never raise
        from .metrics import UNPUBLISHED

        UNPUBLISHED.inc()
        logger.error("live event on %s not published: database error (%s)", stream, exc.__class__.__name__)
        return None
    _send(stream, {"type": EVENT_HANDLER, "stream": stream, "seq": seq, "sent_at": time.time(),
                   "payload": payload, "permission": permission, "users": list(users)})
    return seq


def to_tenant(tenant_id: int, payload: dict, *, permission: str | None = None, users: Iterable[int] = ()) -> None:
    return to_group(tenant_stream(tenant_id), {**payload, "tenant_id": tenant_id}, permission=permission,
                    users=users)


def actor_name(actor) -> str:
    """Who did it, as a notification names them: the person's full name (their username
    without one), also for their API tokens; a system process by its name."""
    user = getattr(actor, "user", None) or getattr(getattr(actor, "token", None), "user", None)
    if user is not None:
        return user.get_full_name() or user.get_username()
    return getattr(actor, "system", "") or ""


def access_changed(user_id: int) -> None:
    """After commit, tell every web process to recompute this user's live access
    (membership, role, account state): their connections stop receiving what they
    may no longer see within a second, without a query per delivered event."""
    transaction.on_commit(lambda: _send(user_group(user_id), {"type": ACCESS_HANDLER, "user": int(user_id)}))
