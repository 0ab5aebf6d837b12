"""Controller plumbing: work queues fed by store events, one timer heap, one run loop.

Controllers never poll. The store calls ``on_event`` synchronously after every write;
controllers only enqueue keys there. The manager task drains the queues in batches
(yielding to the HTTP server between batches), so a burst of 10,000 deployments is
processed as a stream of small reconciles, and repeated events for one key collapse
into one reconcile. Delayed work (a pod becoming ready after the simulated start-up
time, crash back-off, retries) goes into a single heap driven by one loop timer.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging

from ..apiserver import ApiServer
from ..errors import ApiError
from ..events import EventRecorder
from ..store import Store, Stored

log = logging.getLogger("clusters.simulator")

Key = tuple[str, str]  # (namespace, name)


class Timers:
    """A single heap of (deadline, callback) with one asyncio timer armed for the earliest."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self._heap: list = []
        self._seq = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for: float | None = None

    def call_later(self, delay: float, fn, *args) -> None:
        when = self.loop.time() + max(delay, 0.0)
        heapq.heappush(self._heap, (when, next(self._seq), fn, args))
        if self._armed_for is None or when < self._armed_for:
            self._arm()

    def _arm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._heap:
            self._armed_for = self._heap[0][0]
            self._handle = self.loop.call_at(self._armed_for, self._fire)
        else:
            self._armed_for = self._handle = None

    def _fire(self) -> None:
        self._handle = self._armed_for = None
        now = self.loop.time()
        while self._heap and self._heap[0][0] <= now:
            _, _, fn, args = heapq.heappop(self._heap)
            try:
                fn(*args)
            except Exception:  # one broken callback must not stop every later timer
                log.exception("timer callback failed")
        self._arm()

    def __len__(self) -> int:
        return len(self._heap)


class Controller:
    """Subclasses set ``watches`` (buckets) and implement ``handle`` and ``reconcile``."""

    watches: tuple[str, ...] = ()

    def __init__(self, manager: ControllerManager):
        self.manager = manager
        self.api: ApiServer = manager.api
        self.store: Store = manager.store
        self.timers: Timers = manager.timers
        self.events: EventRecorder = manager.events
        self.queue: dict = {}  # insertion-ordered set of keys

    @property
    def ready_delay(self) -> float:
        return self.manager.ready_delay

    def enqueue(self, key) -> None:
        if key not in self.queue:
            self.queue[key] = None
            self.manager.wake.set()

    def enqueue_later(self, delay: float, key) -> None:
        self.timers.call_later(delay, self.enqueue, key)

    def handle(self, type_: str, bucket: str, old: dict | None, new: dict | None) -> None:
        raise NotImplementedError

    def reconcile(self, key) -> None:
        raise NotImplementedError

    def save(self, bucket: str, obj: dict, current: Stored) -> Stored:
        """Write a controller-computed object unless nothing changed (no RV bump, no event)."""
        obj["metadata"]["resourceVersion"] = current.obj["metadata"]["resourceVersion"]
        if obj == current.obj:
            return current
        return self.store.put(bucket, obj)


def spec_changed(type_: str, old: dict | None, new: dict) -> bool:
    """Whether an event on a controller's own object needs a reconcile.

    Status written by the controller itself must not wake it again, or a status that
    differs on every attempt (an error message naming a random pod) spins forever.
    """
    if type_ != "MODIFIED" or old is None:
        return type_ != "DELETED"
    return (old.get("spec") != new.get("spec")
            or old["metadata"].get("deletionTimestamp") != new["metadata"].get("deletionTimestamp"))


def owner_key(meta: dict, kind: str) -> Key | None:
    """The (namespace, name) of the controlling owner of ``kind``, if any."""
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller") and ref.get("kind") == kind:
            return meta.get("namespace", ""), ref.get("name")
    return None


def owner_reference(obj: dict, block: bool = True) -> dict:
    meta = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": block}


class ControllerManager:
    BATCH = 200  # reconciles between yields to the HTTP server
    SLICE = 50  # reconciles per controller per turn

    def __init__(self, api: ApiServer, loop: asyncio.AbstractEventLoop, ready_delay: float):
        self.api = api
        self.store = api.store
        self.loop = loop
        self.timers = Timers(loop)
        self.ready_delay = ready_delay
        self.events = EventRecorder(self.store, self.timers)
        self.wake = asyncio.Event()
        self.controllers: list[Controller] = []
        self._routes: dict[str, list[Controller]] = {}
        self.store.listeners.append(self._on_event)

    def add(self, controller: Controller) -> Controller:
        self.controllers.append(controller)
        for bucket in controller.watches:
            self._routes.setdefault(bucket, []).append(controller)
        return controller

    def _on_event(self, type_: str, bucket: str, old: dict | None, new: dict | None) -> None:
        for controller in self._routes.get(bucket, ()):
            controller.handle(type_, bucket, old, new)
        for controller in self._routes.get("*", ()):  # controllers that see every kind (GC, quota)
            controller.handle(type_, bucket, old, new)

    def pending(self) -> int:
        return sum(len(c.queue) for c in self.controllers)

    def drain(self, limit: int | None = None) -> int:
        """Reconcile queued keys (about ``limit``); returns how many were processed.

        Controllers take turns in slices, so one busy controller cannot starve the others.
        """
        done = 0
        while limit is None or done < limit:
            progressed = False
            for controller in self.controllers:
                for _ in range(min(len(controller.queue), self.SLICE)):
                    key = next(iter(controller.queue))
                    del controller.queue[key]
                    done += 1
                    progressed = True
                    self._reconcile(controller, key)
            if not progressed:
                break
        return done

    def _reconcile(self, controller: Controller, key) -> None:
        try:
            controller.reconcile(key)
        except ApiError as exc:
            # Conflicts and quota rejections are expected; try again shortly.
            log.debug("%s %s: %s", type(controller).__name__, key, exc.message)
            controller.enqueue_later(min(1.0, max(self.ready_delay, 0.05)), key)
        except Exception:
            log.exception("%s failed on %s", type(controller).__name__, key)

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.pending():
                self.drain(self.BATCH)
                await asyncio.sleep(0)  # let requests in between batches
