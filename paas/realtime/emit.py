"""Live events: pushed to Channels groups only after the transaction commits,
so a browser never sees a change that was rolled back.

A message on the layer carries the payload (what the browser receives, plus a
unique "id") and who may receive it. Consumers check that audience again at
delivery, against the database as it is then; see consumers.NotificationsConsumer.
"""
import logging
import uuid
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

EVENT_HANDLER = "paas.event"  # consumers implement paas_event()


def tenant_group(tenant_id: int) -> str:
    return f"tenant.{tenant_id}"


def _send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception as exc:  # a dead channel layer must never break the write that already committed
        # One line, no traceback: while Redis is down this happens on every write.
        logger.warning("live event to %s not delivered: channel layer unavailable (%s)", group,
                       exc.__class__.__name__)


def to_group(group: str, payload: dict, *, permission: str | None = None, users: Iterable[int] = ()) -> None:
    """Send `payload` to a group once the current transaction commits.

    `permission` (a tenants.roles codename) limits delivery to connections whose
    user holds it on the payload's tenant; `users` (ids) receive it regardless,
    e.g. the owner of the token an event is about.
    """
    message = {
        "type": EVENT_HANDLER,
        "payload": {**payload, "id": uuid.uuid4().hex},
        "permission": permission,
        "users": sorted({int(u) for u in users}),
    }
    transaction.on_commit(lambda: _send(group, message))


def to_tenant(tenant_id: int, payload: dict, *, permission: str | None = None, users: Iterable[int] = ()) -> None:
    to_group(tenant_group(tenant_id), {**payload, "tenant_id": tenant_id}, permission=permission, users=users)
