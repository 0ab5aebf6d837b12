"""WebSocket consumers. Every subscription is permission-checked at connect and
every event again at delivery, against the database as it is then: a member
removed while connected stops receiving, a deactivated account is disconnected,
and an event meant for holders of one permission reaches only them.

Without a channel layer (Redis down) the handshake still succeeds: the client is
told live updates are unavailable ({"type": "unavailable"}) and the socket is
closed with CLOSE_LAYER_DOWN, so the browser shows a notice and retries later."""
import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth import get_user_model

from paas.actors import Actor

from .emit import tenant_group

CLOSE_UNAUTHENTICATED = 4401
CLOSE_DEACTIVATED = 4403
CLOSE_NOT_FOUND = 4404

CLOSE_LAYER_DOWN = 4503  # the client shows "live updates unavailable" and reconnects with backoff
UNAVAILABLE = {"type": "unavailable", "reason": "live-updates"}

logger = logging.getLogger(__name__)

SEND, SKIP, LEAVE, CLOSE = "send", "skip", "leave", "close"


def _active_user(user_id):
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


@database_sync_to_async
def _visible_tenant_ids(user_id) -> set[int]:
    from tenants.selectors import tenants_visible_to

    user = _active_user(user_id)
    if user is None:
        return set()
    return set(tenants_visible_to(Actor.for_user(user)).values_list("pk", flat=True))


@database_sync_to_async
def _verdict(user_id, tenant_id, permission, users) -> str:
    """What to do with one event for this connection's user."""
    from paas.permissions import can
    from tenants.selectors import tenants_visible_to

    # Re-read the user: the one in the scope is as it was at connect.
    user = _active_user(user_id)
    if user is None:
        return CLOSE
    if tenant_id is None:
        return SKIP if permission else SEND
    actor = Actor.for_user(user)
    tenant = tenants_visible_to(actor).filter(pk=tenant_id).first()
    if tenant is None:
        return LEAVE
    if permission and user_id not in users and not can(actor, permission, tenant):
        return SKIP
    return SEND


class NotificationsConsumer(AsyncJsonWebsocketConsumer):
    """Sends a logged-in user the live events of the tenants they may see."""

    layer_down = False
    accepted = False

    # AsyncConsumer.__call__ assigns channel_receive (the layer's receive for this channel)
    # and awaits it next to the socket; a layer that cannot be reached makes that raise,
    # which would take the connection down with an error. Keep the layer's function and
    # hand __call__ a guarded one instead.
    @property
    def channel_receive(self):
        return self._guarded_receive

    @channel_receive.setter
    def channel_receive(self, receive):
        self._layer_receive = receive

    async def _guarded_receive(self):
        if not self.layer_down:
            try:
                return await self._layer_receive()
            except Exception as exc:  # redis-py's ConnectionError/TimeoutError, or any layer failure
                await self._layer_failed(exc)
        await asyncio.Future()  # nothing more from the layer; cancelled when the socket closes

    async def _layer_failed(self, exc: Exception) -> None:
        if self.layer_down:
            return
        self.layer_down = True
        logger.warning("channel layer unavailable (%s): live updates are off for this connection",
                       exc.__class__.__name__)
        if self.accepted:  # otherwise connect() sees layer_down and tells the client
            await self.send_json(UNAVAILABLE)
            await self.close(code=CLOSE_LAYER_DOWN)

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.tenant_ids = await _visible_tenant_ids(self.user_id)
        try:
            for tenant_id in self.tenant_ids:
                await self.channel_layer.group_add(tenant_group(tenant_id), self.channel_name)
        except Exception as exc:  # see _guarded_receive
            await self._layer_failed(exc)
        await self.accept()
        if self.layer_down:
            self.tenant_ids = set()
            await self.send_json(UNAVAILABLE)
            await self.close(code=CLOSE_LAYER_DOWN)
            return
        await self.send_json({"type": "hello", "tenants": sorted(self.tenant_ids)})

    async def disconnect(self, code):
        try:
            for tenant_id in getattr(self, "tenant_ids", set()):
                await self.channel_layer.group_discard(tenant_group(tenant_id), self.channel_name)
        except Exception:  # the layer is gone: so are its groups, in time (channels_redis group expiry)
            logger.info("channel layer unavailable: group memberships not discarded")
        self.tenant_ids = set()

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def paas_event(self, message):
        payload = message["payload"]
        tenant_id = payload.get("tenant_id")
        verdict = await _verdict(self.user_id, tenant_id, message.get("permission"), message.get("users") or ())
        if verdict == SEND:
            await self.send_json(payload)
        elif verdict == LEAVE:
            await self.channel_layer.group_discard(tenant_group(tenant_id), self.channel_name)
            self.tenant_ids.discard(tenant_id)
        elif verdict == CLOSE:
            await self.close(code=CLOSE_DEACTIVATED)


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Any other ws/ path: refused cleanly. Without it the router raised ValueError
    ("No route found"), a 500 with a traceback in the logs for each stray client."""

    async def connect(self):
        await self.close(code=CLOSE_NOT_FOUND)
