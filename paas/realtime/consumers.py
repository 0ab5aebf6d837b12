"""WebSocket consumers. Every subscription is permission-checked at connect and
again for each event, so a member removed while connected stops receiving."""
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from paas.actors import Actor

from .emit import tenant_group


@database_sync_to_async
def _visible_tenant_ids(user) -> set[int]:
    from tenants.selectors import tenants_visible_to

    return set(tenants_visible_to(Actor.for_user(user)).values_list("pk", flat=True))


class NotificationsConsumer(AsyncJsonWebsocketConsumer):
    """Sends a logged-in user the live events of the tenants they may see."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.user = user
        self.tenant_ids = await _visible_tenant_ids(user)
        for tenant_id in self.tenant_ids:
            await self.channel_layer.group_add(tenant_group(tenant_id), self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "tenants": sorted(self.tenant_ids)})

    async def disconnect(self, code):
        for tenant_id in getattr(self, "tenant_ids", set()):
            await self.channel_layer.group_discard(tenant_group(tenant_id), self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def paas_event(self, message):
        payload = message["payload"]
        tenant_id = payload.get("tenant_id")
        if tenant_id is not None:
            # Membership may have changed since connect: check again before forwarding.
            if tenant_id not in await _visible_tenant_ids(self.user):
                await self.channel_layer.group_discard(tenant_group(tenant_id), self.channel_name)
                self.tenant_ids.discard(tenant_id)
                return
        await self.send_json(payload)
