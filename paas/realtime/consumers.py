"""WebSocket consumers. The notifications socket speaks the live stream protocol
(docs in README "Live events"): `hello` with the streams this user may watch and
their heads, numbered events with `prev`, `resume` -> missed events + `resumed` (or
`reset`), `unsubscribed` when access is lost, 4403 when the account is deactivated.

Streams beyond the user's tenants are watched on request: `subscribe` {stream, after}
(a release: "release.<id>") is allowed when the stream's tenant, looked up once, is one
the user's snapshot may watch; the answer is the events after `after` (if given) then
`subscribed` with the head, or `unsubscribed` — the same for a stream that does not exist
and one of another tenant, so nothing tells them apart. From then on the subscription
rides on the tenant's entry of the snapshot: an access change that removes the tenant
removes it too (`unsubscribed`), and deliveries are checked in memory as for any stream.

Who may receive what is decided at subscription time (paas.realtime.access) and
again when the user's access changes (pushed through the per-user group, see
paas.realtime.hub); delivering an event costs no database query.

Without a channel layer (Redis down) the handshake still succeeds: the client is
told live updates are unavailable ({"type": "unavailable"}) and the socket is
closed with CLOSE_LAYER_DOWN, so the browser shows a notice and retries later."""
import json
import logging

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from . import store
from .access import may_receive
from .emit import tenant_stream
from .hub import frame_of, get_hub
from .metrics import RESETS

CLOSE_UNAUTHENTICATED = 4401
CLOSE_DEACTIVATED = 4403
CLOSE_NOT_FOUND = 4404

CLOSE_LAYER_DOWN = 4503  # the client shows "live updates unavailable" and reconnects with backoff
UNAVAILABLE = {"type": "unavailable", "reason": "live-updates"}
MAX_RESUME_STREAMS = 200
MAX_EXTRA_STREAMS = 20  # release pages watch one; a list of releases a handful
# Each subscribe to a stream not yet watched costs a query (whose tenant is it?): a connection gets
# this many, so a script cannot make the server query in a loop by asking for ids one after another.
MAX_SUBSCRIBE_LOOKUPS = 200

logger = logging.getLogger(__name__)


class NotificationsConsumer(AsyncJsonWebsocketConsumer):
    """Sends a logged-in user the live events of the streams they may watch."""

    # No channel per connection: the process's hub holds the only one and fans out in memory.
    channel_layer_alias = None
    hub = None
    layer_down = False

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.access, self.last, self.held = {}, {}, {}
        self.base_access = {}  # the user's snapshot, shared with their other connections: never mutated
        self.extra: dict[str, str] = {}  # stream subscribed on request -> the tenant stream it belongs to
        self.lookups = 0
        layer = get_channel_layer()
        try:
            if layer is None:
                raise ConnectionError("no channel layer configured")
            self.hub = get_hub(layer)
            access = await self.hub.user_access(self)
            if access is None:
                await self.hub.unsubscribe(self)
                await self.close(code=CLOSE_DEACTIVATED)
                return
            self.base_access = self.access = access
            # Events arriving before hello wait in `held`, then go out after it.
            self.held = {stream: [] for stream in access}
            heads = await self.hub.subscribe(self, sorted(access))
        except Exception as exc:  # redis-py's ConnectionError/TimeoutError, or any layer failure
            logger.warning("channel layer unavailable (%s): live updates are off for this connection",
                           exc.__class__.__name__)
            self.layer_down = True
            if self.hub is not None:
                await self.hub.unsubscribe(self)
            await self.accept()
            await self.send_json(UNAVAILABLE)
            await self.close(code=CLOSE_LAYER_DOWN)
            return
        await self.accept()
        await self.send_json({"type": "hello", "streams": heads})
        for stream in list(self.held):
            await self._flush(stream)

    async def disconnect(self, code):
        if self.hub is not None:
            await self.hub.unsubscribe(self)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        elif content.get("type") == "resume" and isinstance(content.get("after"), dict) and self.hub:
            await self._resume(content["after"])
        elif content.get("type") == "subscribe" and self.hub:
            await self._subscribe(content.get("stream"), content.get("after"))
        elif content.get("type") == "unsubscribe" and self.hub:
            await self._unsubscribe(content.get("stream"))

    # --- called by the hub ----------------------------------------------------------

    async def send_frame(self, frame: dict) -> None:
        """An ASGI websocket.send message built once by the hub for many connections."""
        try:
            await self.base_send(frame)
        except Exception:  # the socket closed meanwhile; disconnect() unsubscribes it
            logger.debug("live frame not sent: connection closing")

    async def layer_failed(self) -> None:
        if self.layer_down:
            return
        self.layer_down = True
        await self.send_json(UNAVAILABLE)
        await self.close(code=CLOSE_LAYER_DOWN)

    async def access_changed(self, access) -> None:
        """The user's access was recomputed (the hub's lock is held: no event interleaves)."""
        if access is None:  # deactivated, or deleted
            await self.hub.unsubscribe(self)
            await self.close(code=CLOSE_DEACTIVATED)
            return
        self.base_access = access
        self.access = access = self._with_extra(access)
        for stream in [s for s in {*self.last, *self.extra} if s not in access]:
            self.extra.pop(stream, None)
            await self.hub.unsubscribe(self, [stream])
            await self.send_json({"type": "unsubscribed", "stream": stream, "reason": "access"})
        gained = sorted(s for s in access if s not in self.last and s not in self.held)
        if gained:
            # Not awaited here: subscribing waits for the hub's lock, which our caller holds.
            self.hub._spawn(self._subscribe_more(gained))

    async def _subscribe_more(self, streams):
        for stream in streams:
            self.held[stream] = []
        heads = await self.hub.subscribe(self, streams)
        for stream in streams:
            await self.send_json({"type": "subscribed", "stream": stream, "head": heads[stream]})
            await self._flush(stream)

    # --- streams on request ----------------------------------------------------------

    def _with_extra(self, access: dict) -> dict:
        """The snapshot plus each stream subscribed on request whose tenant is still in it."""
        if not self.extra:
            return access
        return {**access, **{stream: access[tenant] for stream, tenant in self.extra.items() if tenant in access}}

    async def _denied(self, stream) -> None:
        await self.send_json({"type": "unsubscribed", "stream": str(stream)[:100], "reason": "access"})

    async def _subscribe(self, stream, after) -> None:
        if not isinstance(stream, str) or store.source_of(stream) is None:
            await self._denied(stream)
            return
        valid_after = isinstance(after, int) and not isinstance(after, bool) and after >= 0
        if stream in self.extra:  # again (the page asks after a gap): a resume of that stream
            if valid_after and stream not in self.held:
                await self._resume({stream: after})
            return
        if len(self.extra) >= MAX_EXTRA_STREAMS or self.lookups >= MAX_SUBSCRIBE_LOOKUPS:
            await self.send_json({"type": "unsubscribed", "stream": stream[:100], "reason": "limit"})
            return
        self.lookups += 1
        tenant_id = await store.astream_tenant(stream)
        tenant = tenant_stream(tenant_id) if tenant_id is not None else None
        if tenant not in self.access:  # unknown and foreign look the same
            await self._denied(stream)
            return
        self.extra[stream] = tenant
        self.access = self._with_extra(self.base_access)
        self.held[stream] = []
        try:
            heads = await self.hub.subscribe(self, [stream])
        except Exception as exc:  # the layer failed meanwhile: as for a connection
            logger.warning("channel layer unavailable (%s) while subscribing", exc.__class__.__name__)
            await self.layer_failed()
            return
        if stream not in self.extra:  # access was taken away while joining: told already
            await self.hub.unsubscribe(self, [stream])
            return
        if valid_after:
            await self._replay(stream, after, "subscribed")
        else:
            await self.send_json({"type": "subscribed", "stream": stream, "head": heads[stream]})
            await self._flush(stream)

    async def _unsubscribe(self, stream) -> None:
        if isinstance(stream, str) and self.extra.pop(stream, None) is not None:
            self.access = self._with_extra(self.base_access)
            await self.hub.unsubscribe(self, [stream])
            await self.send_json({"type": "unsubscribed", "stream": stream, "reason": "request"})

    # --- resume ---------------------------------------------------------------------

    async def _resume(self, after: dict) -> None:
        wanted = {}
        for stream, seq in list(after.items())[:MAX_RESUME_STREAMS]:
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
                continue
            if stream not in self.access:  # another tenant's stream, or access lost: nothing
                await self.send_json({"type": "unsubscribed", "stream": str(stream)[:100], "reason": "access"})
            elif stream not in self.held:  # not already being replayed
                wanted[stream] = seq
        if not wanted:
            return
        for stream in wanted:
            self.held[stream] = []
        heads = await store.aheads(wanted)
        for stream, seq in wanted.items():
            await self._replay(stream, seq, "resumed", heads[stream])

    async def _replay(self, stream: str, seq: int, done: str, head: int | None = None) -> None:
        """Send `stream`'s events after `seq` (those this user may see), then `done` with the
        head — or `reset` when too far behind — then the live events held meanwhile."""
        if head is None:
            head = (await store.aheads([stream]))[stream]
        limit = settings.LIVE_RESUME_LIMIT
        missed = await store.aafter(stream, seq, limit + 1) if seq < head else []
        if seq > head or len(missed) > limit:
            RESETS.inc()
            await self.send_json({"type": "reset", "stream": stream, "head": head})
        else:
            prev = seq
            for message in missed:
                if may_receive(self.access, self.user_id, stream, message["permission"], message["users"]):
                    await self.send(text_data=json.dumps(frame_of(message, prev)))
                    prev = message["seq"]
            head = max(seq, head)
            await self.send_json({"type": done, "stream": stream, "head": head})
        if stream in self.access:
            self.last[stream] = head
        await self._flush(stream)

    async def _flush(self, stream) -> None:
        """Send the live events held for `stream` (newer than what was sent), then stop holding."""
        pending = self.held.get(stream)
        while pending:
            message = pending.pop(0)
            prev = self.last.get(stream, 0)
            if message["seq"] > prev:
                self.last[stream] = message["seq"]
                await self.send(text_data=json.dumps(frame_of(message, prev)))
        self.held.pop(stream, None)


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Any other ws/ path: refused cleanly. Without it the router raised ValueError
    ("No route found"), a 500 with a traceback in the logs for each stray client."""

    async def connect(self):
        await self.close(code=CLOSE_NOT_FOUND)

