"""Live events: pushed to Channels groups only after the transaction commits,
so a browser never sees a change that was rolled back."""
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

EVENT_HANDLER = "paas.event"  # consumers implement paas_event()


def tenant_group(tenant_id: int) -> str:
    return f"tenant.{tenant_id}"


def _send(group: str, payload: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": EVENT_HANDLER, "payload": payload})
    except Exception:  # a dead channel layer must never break the write that already committed
        logger.warning("live event to %s not delivered", group, exc_info=True)


def to_group(group: str, payload: dict) -> None:
    transaction.on_commit(lambda: _send(group, payload))


def to_tenant(tenant_id: int, payload: dict) -> None:
    to_group(tenant_group(tenant_id), {**payload, "tenant_id": tenant_id})
