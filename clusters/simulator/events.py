"""Kubernetes Events as the controllers, the scheduler and the kubelets write them.

Two shapes, as on a real cluster:

- the legacy recorder (``k8s.io/client-go/tools/record``, used by the kubelet and
  kube-controller-manager): ``source``, ``firstTimestamp``/``lastTimestamp`` and
  ``count``; an identical event (same source, object, type, reason and message) bumps
  ``count`` and ``lastTimestamp`` of the one object instead of creating another, and
  after ten events that differ only in their message within ten minutes the rest are
  combined into one "(combined from similar events): ..." event, as the recorder's
  EventCorrelator does (quota refusals name a new random pod each time);
- the events.k8s.io recorder (the scheduler): ``eventTime``, ``action``,
  ``reportingComponent``/``reportingInstance``, repeats counted in ``series``.

Retention is bounded like an API server's: every event expires ``ttl`` seconds after
its last update (kube-apiserver's ``--event-ttl``, 1 h) and a namespace keeps at most
``per_namespace`` events, the least recently updated dropped first. Both apply to events
clients create too. Defaults come from ``KUBESIM_EVENT_TTL`` and
``KUBESIM_EVENTS_PER_NAMESPACE`` (0 turns recording off).
"""
from __future__ import annotations

import os
import time
import uuid
from collections import OrderedDict

from .apiserver import now_iso
from .store import Store

BUCKET = "events"
SIMILAR_LIMIT = 10  # the EventCorrelator's maxEvents before it combines similar events
SIMILAR_WINDOW = 600.0
CACHE_SIZE = 4096  # the recorder's LRU of events it may still aggregate into
SWEEP_EVERY = 30.0


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def micro_time(ts: float | None = None) -> str:
    ts = time.time() if ts is None else ts
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1_000_000):06d}Z"


def reference(obj: dict, field_path: str | None = None) -> dict:
    """An ObjectReference to ``obj`` as the recorder builds it (ref.GetReference)."""
    meta = obj["metadata"]
    ref = {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""), "name": meta["name"],
           "uid": meta.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
           "resourceVersion": meta.get("resourceVersion", "")}
    if field_path:
        ref["fieldPath"] = field_path
    return ref


class EventRecorder:
    def __init__(self, store: Store, timers, *, ttl: float | None = None, per_namespace: int | None = None):
        self.store = store
        self.timers = timers
        self.ttl = ttl if ttl is not None else _env_number("KUBESIM_EVENT_TTL", 3600)
        self.per_namespace = int(per_namespace if per_namespace is not None
                                 else _env_number("KUBESIM_EVENTS_PER_NAMESPACE", 1000))
        # namespace -> event name -> monotonic time of its last write, least recent first
        self.kept: dict[str, OrderedDict[str, float]] = {}
        self._recent: OrderedDict[tuple, tuple[str, str]] = OrderedDict()  # aggregation key -> (ns, name)
        self._similar: dict[tuple, tuple[float, set]] = {}
        self._trim_pending: set[str] = set()
        self._seq = 0
        store.listeners.append(self._on_store_event)
        timers.call_later(SWEEP_EVERY, self._sweep)

    # -- recording ----------------------------------------------------------------------

    def record(self, obj: dict, type_: str, reason: str, message: str, component: str, host: str = "",
               field_path: str | None = None) -> None:
        """Record like client-go's legacy ``EventRecorder.Eventf`` (kubelet, controllers)."""
        if not self._accepting(obj):
            return
        involved = reference(obj, field_path)
        base = (component, host, involved["uid"], involved.get("fieldPath", ""), type_, reason)
        key = base + (message,)
        if key not in self._recent:
            combined = self._combine(base, message)
            if combined is not None:
                key, message = base + ("(combined",), f"(combined from similar events): {message}"
        if self._bump(key, involved, message):
            return
        now = now_iso()
        event = self._new(involved, type_, reason, message)
        event.update(source={"component": component, **({"host": host} if host else {})},
                     firstTimestamp=now, lastTimestamp=now, count=1, eventTime=None,
                     reportingComponent=component, reportingInstance=host)
        self._put_new(key, event)

    def record_new_api(self, obj: dict, type_: str, reason: str, message: str, component: str, action: str,
                       instance: str) -> None:
        """Record like the events.k8s.io recorder (the scheduler): eventTime, series on repeats."""
        if not self._accepting(obj):
            return
        involved = reference(obj)
        key = ("new", component, involved["uid"], type_, reason, action, message)
        where = self._recent.get(key)
        stored = self.store.get(BUCKET, *where) if where else None
        if stored is not None:
            event = stored.thaw()
            series = event.get("series") or {"count": 1}
            event["series"] = {"count": series["count"] + 1, "lastObservedTime": micro_time()}
            self._recent.move_to_end(key)
            self.store.put(BUCKET, event)
            return
        event = self._new(involved, type_, reason, message)
        event.update(source={}, eventTime=micro_time(), firstTimestamp=None, lastTimestamp=None,
                     action=action, reportingComponent=component, reportingInstance=instance)
        self._put_new(key, event)

    def _accepting(self, obj: dict) -> bool:
        if self.per_namespace <= 0:
            return False
        namespace = obj["metadata"].get("namespace") or "default"
        ns = self.store.get("namespaces", "", namespace)
        # The API server refuses new content in a namespace being deleted, events included.
        return ns is not None and not ns.obj["metadata"].get("deletionTimestamp")

    def _combine(self, base: tuple, message: str) -> bool | None:
        now = time.monotonic()
        started, messages = self._similar.get(base, (now, set()))
        if now - started > SIMILAR_WINDOW:
            started, messages = now, set()
        messages.add(message)
        self._similar[base] = (started, messages)
        if len(self._similar) > CACHE_SIZE:
            self._similar.pop(next(iter(self._similar)))
        return True if len(messages) >= SIMILAR_LIMIT else None

    def _bump(self, key: tuple, involved: dict, message: str) -> bool:
        where = self._recent.get(key)
        stored = self.store.get(BUCKET, *where) if where else None
        if stored is None:
            return False
        event = stored.thaw()
        event["count"] = (event.get("count") or 1) + 1
        event["lastTimestamp"] = now_iso()
        event["message"] = message
        event["involvedObject"] = involved  # the newest resourceVersion, as the recorder patches it
        self._recent.move_to_end(key)
        self.store.put(BUCKET, event)
        return True

    def _new(self, involved: dict, type_: str, reason: str, message: str) -> dict:
        # Real names are <object>.<UnixNano in hex>; a counter keeps them unique within a nanosecond.
        self._seq += 1
        name = f"{involved['name']}.{time.time_ns() + self._seq:x}"
        return {"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": involved["namespace"] or "default",
                             "uid": str(uuid.uuid4()), "creationTimestamp": now_iso()},
                "involvedObject": involved, "reason": reason, "message": message, "type": type_}

    def _put_new(self, key: tuple, event: dict) -> None:
        meta = event["metadata"]
        self._recent[key] = (meta["namespace"], meta["name"])
        if len(self._recent) > CACHE_SIZE:
            self._recent.popitem(last=False)
        self.store.put(BUCKET, event)

    # -- retention ----------------------------------------------------------------------

    def _on_store_event(self, type_: str, bucket: str, old: dict | None, new: dict | None) -> None:
        if bucket != BUCKET:
            return
        meta = new["metadata"]
        namespace = meta.get("namespace", "")
        kept = self.kept.setdefault(namespace, OrderedDict())
        if type_ == "DELETED":
            kept.pop(meta["name"], None)
            if not kept:
                del self.kept[namespace]
            return
        kept[meta["name"]] = time.monotonic()
        kept.move_to_end(meta["name"])
        if len(kept) > max(self.per_namespace, 1) and namespace not in self._trim_pending:
            # Not from inside this callback: watchers have not seen this write yet.
            self._trim_pending.add(namespace)
            self.timers.call_later(0, self._trim, namespace)

    def _trim(self, namespace: str) -> None:
        self._trim_pending.discard(namespace)
        kept = self.kept.get(namespace)
        while kept and len(kept) > max(self.per_namespace, 1):
            name = next(iter(kept))
            if self.store.remove(BUCKET, namespace, name) is None:
                kept.pop(name, None)  # already gone from the store

    def _sweep(self) -> None:
        self.expire()
        self.timers.call_later(min(SWEEP_EVERY, max(self.ttl / 4, 0.05)), self._sweep)

    def expire(self) -> int:
        """Drop events not updated for ``ttl`` seconds; returns how many went."""
        deadline = time.monotonic() - self.ttl
        dropped = 0
        for namespace in list(self.kept):
            kept = self.kept.get(namespace)
            while kept:
                name, written = next(iter(kept.items()))
                if written > deadline:
                    break
                if self.store.remove(BUCKET, namespace, name) is None:
                    kept.pop(name, None)
                dropped += 1
        return dropped
