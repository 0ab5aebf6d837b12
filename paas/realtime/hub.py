"""One fan-out hub per web process (per event loop): it owns one channel on the
layer, joins a stream's group while a local connection watches the stream, gets
each event ONCE and hands it to the local connections in memory, filtered by each
connection's access snapshot (paas.realtime.access) — no query per watcher per event.

Events arrive numbered. The hub remembers the last seq it handled per stream; a
jump means the layer lost messages (channels_redis drops what waits longer than
its expiry or overflows a channel's capacity): the hub fetches the missing events
from the stream log with one query, counts them (paas_live_events_lost_total) and
logs a warning, then carries on in order. A message arriving after its gap was
filled is dropped and counted as late. Every LIVE_CHECK_SECONDS the hub compares
its heads with the log, so a lost last event is found without waiting for the next.

Access changes are pushed to the group of the user (emit.access_changed): the hub
recomputes that user's snapshot before handling any later event, so deliveries
stop at once; a deactivated account's connections are closed (4403).
"""
import asyncio
import json
import logging
import time

from django.conf import settings

from . import store
from .access import alive_access, may_receive
from .emit import ACCESS_HANDLER, EVENT_HANDLER, user_group
from .metrics import DELIVERED, FAN_OUT, LATE, LOST

logger = logging.getLogger(__name__)

_hubs: dict[int, "Hub"] = {}  # id(event loop) -> its hub
REJOIN_SECONDS = 3600


def get_hub(layer) -> "Hub":
    loop = asyncio.get_running_loop()
    hub = _hubs.get(id(loop))
    if hub is None or hub.dead or hub.layer is not layer or hub.loop is not loop:
        hub = _hubs[id(loop)] = Hub(layer, loop)
    return hub


class Hub:
    def __init__(self, layer, loop):
        self.layer, self.loop = layer, loop
        self.channel = None
        self.dead = False
        self.streams: dict[str, set] = {}  # stream -> local connections watching it
        self.heads: dict[str, int] = {}  # stream -> last seq handled here
        self.joining: dict[str, asyncio.Future] = {}
        self.early: dict[str, list] = {}  # events received while a stream's head was being read
        self.users: dict[int, set] = {}  # user id -> local connections
        self.user_joins: dict[int, asyncio.Future] = {}
        self.access: dict[int, dict] = {}  # user id -> snapshot, kept current by access pushes
        self.lock = asyncio.Lock()  # one event (or access change) handled at a time, in order
        # Group adds and discards one at a time: a discard still on its way to Redis when another
        # connection re-joins the same group would otherwise land after the add and silently
        # take this process out of the group (events then only arrive through the periodic check).
        self.group_lock = asyncio.Lock()
        self.subscribing: dict[str, int] = {}  # stream -> subscribe() calls in flight
        self.tasks: set = set()
        self.behind: dict[str, int] = {}  # stream -> log head the last check saw ahead of ours

    # --- subscription ------------------------------------------------------------

    async def _start(self):
        if self.channel is None:
            self.channel = await self.layer.new_channel("live-hub")
            self._spawn(self._run())

    def _spawn(self, coroutine):
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _join(self, joins: dict, key, group: str, first) -> None:
        """group_add once per group however many connections ask at the same time."""
        pending = joins.get(key)
        if pending is None:
            pending = joins[key] = self.loop.create_future()
            try:
                async with self.group_lock:
                    await self.layer.group_add(group, self.channel)
                await first()
                pending.set_result(True)
            except BaseException as exc:
                pending.set_exception(exc)
                joins.pop(key, None)
                pending.exception()  # retrieved: no "never retrieved" warning when nobody else waits
                raise
        else:
            await pending

    async def user_access(self, conn):
        """The user's snapshot; computed once per process while they have connections here."""
        await self._start()
        user_id = conn.user_id
        # Registered first: a last other connection of the user leaving meanwhile must not
        # take the user's group away from this one.
        self.users.setdefault(user_id, set()).add(conn)

        async def compute():
            self.access[user_id] = await _live_access(user_id)

        # Join the user's group before reading access, so no change can slip between the two.
        await self._join(self.user_joins, user_id, user_group(user_id), compute)
        if user_id not in self.access:
            await compute()
        return self.access[user_id]

    async def subscribe(self, conn, streams) -> dict[str, int]:
        """Watch `streams` for `conn`; returns each stream's head (the prev of its next event)."""
        if self.dead:
            raise ConnectionError("channel layer unavailable")
        for stream in streams:  # before any await: a last watcher leaving meanwhile keeps the group
            self.subscribing[stream] = self.subscribing.get(stream, 0) + 1
        try:
            new = [s for s in streams if s not in self.streams]
            for stream in new:
                self.streams[stream] = set()
                self.early.setdefault(stream, [])
            for stream in streams:
                await self._join(self.joining, stream, stream, lambda s=stream: self._read_head(s))
            async with self.lock:
                for stream in streams:
                    self.streams.setdefault(stream, set()).add(conn)
                    conn.last[stream] = self.heads.get(stream, 0)
        finally:
            for stream in streams:
                left = self.subscribing.get(stream, 1) - 1
                if left:
                    self.subscribing[stream] = left
                else:
                    self.subscribing.pop(stream, None)
        return {stream: conn.last[stream] for stream in streams}

    async def _read_head(self, stream):
        # Joined the group first: every event committed after this read reaches us.
        head = (await store.aheads([stream]))[stream]
        async with self.lock:
            self.heads[stream] = head
            for message in sorted(self.early.pop(stream, ()), key=lambda m: m["seq"]):
                await self._event(message)

    async def unsubscribe(self, conn, streams=None) -> None:
        """Stop `streams` (all, and the user's group when it was their last connection here)."""
        leaving = streams is None
        for stream in list(conn.last) if leaving else streams:
            conn.last.pop(stream, None)
            conn.held.pop(stream, None)
            watchers = self.streams.get(stream)
            if watchers is None:
                continue
            watchers.discard(conn)
            joined = self.joining.get(stream)
            if not watchers and joined is not None and joined.done() and not self.subscribing.get(stream):
                await self._leave(stream)
        if not leaving:
            return
        mine = self.users.get(conn.user_id)
        if mine is not None:
            mine.discard(conn)
            joined = self.user_joins.get(conn.user_id)
            if not mine and (joined is None or joined.done()):  # not while another connection joins
                async with self.group_lock:
                    if self.users.get(conn.user_id):  # the user connected again meanwhile
                        return
                    self.users.pop(conn.user_id, None)
                    self.access.pop(conn.user_id, None)
                    self.user_joins.pop(conn.user_id, None)
                    await self._discard(user_group(conn.user_id))

    async def _leave(self, stream):
        async with self.group_lock:
            if self.streams.get(stream) or self.subscribing.get(stream):  # watched again meanwhile
                return
            self.streams.pop(stream, None)
            self.heads.pop(stream, None)
            self.joining.pop(stream, None)
            await self._discard(stream)

    async def _discard(self, group):
        if self.dead or self.channel is None:
            return
        try:
            await self.layer.group_discard(group, self.channel)
        except Exception:  # the layer is gone: so are its groups, in time (group expiry)
            logger.info("channel layer unavailable: group %s not discarded", group)

    # --- the receive loop ---------------------------------------------------------

    async def _run(self):
        checker = self._spawn(self._check_periodically())
        try:
            while True:
                try:
                    message = await self.layer.receive(self.channel)
                except Exception as exc:  # redis-py's ConnectionError/TimeoutError, or any layer failure
                    await self._failed(exc)
                    return
                try:
                    async with self.lock:
                        if message.get("type") == EVENT_HANDLER:
                            await self._event(message)
                        elif message.get("type") == ACCESS_HANDLER:
                            await self._access_changed(int(message["user"]))
                except Exception:  # one bad message (or a database hiccup) must not stop the hub
                    logger.exception("live hub: message not handled")
        finally:
            checker.cancel()

    async def _check_periodically(self):
        # Apart from the receive loop: cancelling a pending receive could lose its message.
        rejoined = time.monotonic()
        while not self.dead:
            await asyncio.sleep(settings.LIVE_CHECK_SECONDS)
            try:
                await self._check_heads()
                if time.monotonic() - rejoined > REJOIN_SECONDS:
                    rejoined = time.monotonic()
                    await self._rejoin()
            except Exception:
                logger.exception("live hub: stream heads not checked")

    async def _rejoin(self):
        """channels_redis forgets group members after its group_expiry (a day): renew ours."""
        for group in [*self.streams, *(user_group(u) for u in self.users)]:
            await self.layer.group_add(group, self.channel)

    async def _failed(self, exc):
        self.dead = True
        logger.warning("channel layer unavailable (%s): live updates are off for %d connection(s)",
                       exc.__class__.__name__, sum(len(c) for c in self.users.values()))
        for conn in {conn for conns in self.users.values() for conn in conns}:
            await conn.layer_failed()

    async def _event(self, message):
        stream, seq = message["stream"], message["seq"]
        if stream not in self.heads:
            if stream in self.early:
                self.early[stream].append(message)
            return
        head = self.heads[stream]
        if seq <= head:
            LATE.inc()
            logger.info("live event %s#%s arrived after its gap was filled", stream, seq)
            return
        if seq > head + 1:
            await self._repair(stream, head, seq)
        await self._fan_out(message)

    async def _repair(self, stream, head, upto):
        missing = await store.abetween(stream, head, upto)
        LOST.inc(upto - head - 1)
        logger.warning("live events %s#%d..%d not received from the channel layer (lost, or late); "
                       "sent from the stream log (%d found)", stream, head + 1, upto - 1, len(missing))
        for message in missing:
            await self._fan_out(message)
        self.heads[stream] = max(self.heads.get(stream, 0), upto - 1)

    async def _check_heads(self):
        """A lost last event shows no gap until the next one: compare with the log now and then.
        Only a stream still behind what the previous check saw is repaired: an event on its way
        through the layer right now is not lost."""
        if not self.heads:
            return
        current = await store.aheads(list(self.heads))
        async with self.lock:
            for stream, head in current.items():
                seen_before = self.behind.get(stream, 0)
                if stream in self.heads and self.heads[stream] < min(head, seen_before):
                    await self._repair(stream, self.heads[stream], min(head, seen_before) + 1)
            self.behind = {s: h for s, h in current.items() if s in self.heads and h > self.heads[s]}

    async def _fan_out(self, message):
        stream, seq = message["stream"], message["seq"]
        self.heads[stream] = seq
        started = time.perf_counter()
        permission, users = message.get("permission") or "", message.get("users") or ()
        frames: dict[int, dict] = {}  # prev -> ASGI message: one json.dumps per distinct prev
        sent = 0
        for conn in list(self.streams.get(stream, ())):
            if not may_receive(conn.access, conn.user_id, stream, permission, users):
                continue
            if stream in conn.held:  # a resume is replaying this stream: it sends this after
                conn.held[stream].append(message)
                continue
            prev = conn.last.get(stream, 0)
            if seq <= prev:
                continue  # already sent by a resume
            frame = frames.get(prev)
            if frame is None:  # one ASGI message per distinct prev, shared by those connections
                frame = frames[prev] = {"type": "websocket.send", "text": json.dumps(frame_of(message, prev))}
            conn.last[stream] = seq
            await conn.send_frame(frame)
            sent += 1
        if sent:
            DELIVERED.inc(sent)
            FAN_OUT.observe(time.perf_counter() - started)

    # --- access changes -----------------------------------------------------------

    async def _access_changed(self, user_id):
        conns = list(self.users.get(user_id, ()))
        if not conns:
            return
        access = await _live_access(user_id)
        self.access[user_id] = access
        for conn in conns:
            await conn.access_changed(access)


def frame_of(message: dict, prev: int) -> dict:
    return {**message["payload"], "stream": message["stream"], "seq": message["seq"],
            "sent_at": message["sent_at"], "prev": prev}


async def _live_access(user_id):
    return await alive_access(user_id)
