"""Object storage for one simulated cluster: the stand-in for etcd plus the watch cache.

Design choices, all driven by the 100k-pod scale target:

- Stored objects are never mutated after they are written. Writers build a new dict,
  the store stamps its resourceVersion and serializes it *once*; lists and watch events
  reuse those bytes, so a full list is a join of cached bytes, not a giant json.dumps.
- Objects are grouped by bucket (group + plural), then namespace, then name, so a
  namespaced list only touches its namespace.
- A (label key, value) -> keys index answers equality/``in`` selectors without scanning.
- A bounded history of events serves watches that resume from a resourceVersion;
  older requests get 410 Gone, like a compacted etcd. Events (the Kubernetes kind) keep
  a history of their own, as their separate watch cache does on a real API server, so
  a burst of them never pushes pod or deployment changes out of reach of a resuming watch.
- Everything runs on the cluster's event loop thread, so there are no locks.
"""
from __future__ import annotations

import asyncio
import bisect
import json
from collections import deque
from collections.abc import Callable

from .errors import gone
from .selectors import EVERY_FIELD, EVERYTHING, FieldSelector, LabelSelector

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def dumps(obj) -> bytes:
    return _encode(obj).encode()


class Stored:
    """One object version: the dict (read-only by convention) and its JSON bytes."""

    __slots__ = ("obj", "raw", "key")

    def __init__(self, obj: dict, raw: bytes, key: tuple[str, str]):
        self.obj = obj
        self.raw = raw
        self.key = key

    def thaw(self) -> dict:
        """A private, mutable deep copy (decoding cached bytes beats copy.deepcopy)."""
        return json.loads(self.raw)

    @property
    def rv(self) -> int:
        return int(self.obj["metadata"]["resourceVersion"])


class Bucket:
    __slots__ = ("name", "objects", "label_index", "count", "_sorted")

    def __init__(self, name: str):
        self.name = name
        self.objects: dict[str, dict[str, Stored]] = {}
        self.label_index: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self.count = 0
        self._sorted: list[tuple[str, str]] | None = None

    def sorted_keys(self, namespace: str | None) -> list[tuple[str, str]]:
        if namespace is not None:
            names = self.objects.get(namespace) or {}
            return [(namespace, n) for n in sorted(names)]
        if self._sorted is None:
            self._sorted = sorted(k for ns, names in self.objects.items() for k in ((ns, n) for n in names))
        return self._sorted

    def get(self, key: tuple[str, str]) -> Stored | None:
        names = self.objects.get(key[0])
        return names.get(key[1]) if names else None


class WatchEvent:
    """A history entry. Only bytes are kept (shared with the live object while it is
    current), so old versions cost their JSON size, not their much larger dicts;
    replaying a watch decodes them again."""

    __slots__ = ("rv", "bucket", "type", "key", "raw", "old_raw")

    def __init__(self, rv: int, bucket: str, type_: str, stored: Stored, old_raw: bytes | None):
        self.rv = rv
        self.bucket = bucket
        self.type = type_
        self.key = stored.key
        self.raw = stored.raw
        self.old_raw = old_raw

    @property
    def stored(self) -> Stored:
        return Stored(json.loads(self.raw), self.raw, self.key)

    @property
    def old(self) -> dict | None:
        return json.loads(self.old_raw) if self.old_raw is not None else None


class Watcher:
    """One open watch: filters events and queues them for its HTTP stream."""

    MAX_BACKLOG = 100_000

    def __init__(self, bucket: str, namespace: str | None, labels: LabelSelector, fields: FieldSelector):
        self.bucket = bucket
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.queue: deque[tuple[str, Stored]] = deque()
        self.wake = asyncio.Event()
        self.overflowed = False

    def matches(self, obj: dict | None) -> bool:
        if obj is None:
            return False
        meta = obj["metadata"]
        if self.namespace is not None and meta.get("namespace", "") != self.namespace:
            return False
        return self.labels.matches(meta.get("labels")) and self.fields.matches(obj)

    def offer(self, type_: str, stored: Stored, old: dict | None) -> None:
        # A MODIFIED event that moves an object into or out of the selector is seen by
        # this watcher as ADDED or DELETED, as the real watch cache does.
        now = self.matches(stored.obj)
        if type_ == "MODIFIED":
            before = self.matches(old)
            if not now and not before:
                return
            type_ = "MODIFIED" if now and before else ("ADDED" if now else "DELETED")
        elif not now:
            return
        self.push(type_, stored)

    def push(self, type_: str, stored: Stored) -> None:
        if len(self.queue) >= self.MAX_BACKLOG:
            self.overflowed = True  # the stream ends; the client relists, as after a real watch drop
        else:
            self.queue.append((type_, stored))
        self.wake.set()


Listener = Callable[[str, str, dict | None, dict | None], None]
SEPARATE_HISTORY = ("events",)


class History:
    __slots__ = ("entries", "compacted_rv")

    def __init__(self):
        self.entries: deque[WatchEvent] = deque()
        self.compacted_rv = 0


class Store:
    def __init__(self, history_size: int = 10_000):
        self.rv = 0
        self.buckets: dict[str, Bucket] = {}
        self.uids: dict[str, tuple[str, tuple[str, str]]] = {}
        self.dependents: dict[str, set[tuple[str, tuple[str, str]]]] = {}
        self.history: deque[WatchEvent] = deque()
        self.history_size = history_size
        self.compacted_rv = 0
        self.side_histories = {bucket: History() for bucket in SEPARATE_HISTORY}
        self.listeners: list[Listener] = []
        self.watchers: dict[str, set[Watcher]] = {}

    # -- reads --------------------------------------------------------------------------

    def bucket(self, name: str) -> Bucket:
        b = self.buckets.get(name)
        if b is None:
            b = self.buckets[name] = Bucket(name)
        return b

    def get(self, bucket: str, namespace: str, name: str) -> Stored | None:
        b = self.buckets.get(bucket)
        return b.get((namespace, name)) if b else None

    def by_uid(self, uid: str) -> Stored | None:
        where = self.uids.get(uid)
        if where is None:
            return None
        return self.buckets[where[0]].get(where[1])

    def dependents_of(self, uid: str) -> list[tuple[str, Stored]]:
        """(bucket, object) for every object listing ``uid`` in its ownerReferences."""
        found = []
        for bucket, key in list(self.dependents.get(uid, ())):
            stored = self.buckets[bucket].get(key)
            if stored is not None:
                found.append((bucket, stored))
        return found

    def count(self, bucket: str, namespace: str | None = None) -> int:
        b = self.buckets.get(bucket)
        if b is None:
            return 0
        if namespace is None:
            return b.count
        return len(b.objects.get(namespace) or ())

    def namespaces_of(self, bucket: str) -> list[str]:
        b = self.buckets.get(bucket)
        return [ns for ns, names in b.objects.items() if names] if b else []

    def select(self, bucket: str, namespace: str | None = None, labels: LabelSelector = EVERYTHING,
               fields: FieldSelector = EVERY_FIELD) -> list[Stored]:
        """Matching objects in (namespace, name) order, using indexes where a selector allows."""
        return self.page(bucket, namespace, labels, fields)[0]

    def page(self, bucket: str, namespace: str | None = None, labels: LabelSelector = EVERYTHING,
             fields: FieldSelector = EVERY_FIELD, after: tuple[str, str] | None = None,
             limit: int | None = None) -> tuple[list[Stored], bool, int | None]:
        """One page of matches after key ``after``: (items, more follow, remaining count if cheap).

        Paging walks the cached sorted key list from a bisect position, so fetching page
        200 of a 100k-object list costs the same as fetching page 1.
        """
        b = self.buckets.get(bucket)
        if b is None:
            return [], False, None
        keys: list[tuple[str, str]]
        name = fields.exact("metadata.name")
        fns = fields.exact("metadata.namespace")
        if fns is not None:
            if namespace is not None and fns != namespace:
                return [], False, None
            namespace = fns
        if name is not None:
            keys = [(ns, name) for ns in ([namespace] if namespace is not None else sorted(b.objects))]
        else:
            indexed = self._indexed_keys(b, labels)
            if indexed is not None:
                keys = sorted(k for k in indexed if namespace is None or k[0] == namespace)
            else:
                keys = b.sorted_keys(namespace)
        start = bisect.bisect_right(keys, after) if after is not None else 0
        out: list[Stored] = []
        check_labels = not labels.empty
        check_fields = not fields.empty
        position = start
        for position in range(start, len(keys)):
            if limit is not None and len(out) == limit:
                break
            stored = b.get(keys[position])
            if stored is None:
                continue
            obj = stored.obj
            if check_labels and not labels.matches(obj["metadata"].get("labels")):
                continue
            if check_fields and not fields.matches(obj):
                continue
            out.append(stored)
        else:
            return out, False, 0
        remaining = len(keys) - position if not (check_labels or check_fields) else None
        return out, True, remaining

    @staticmethod
    def _indexed_keys(b: Bucket, labels: LabelSelector) -> set | None:
        best: set | None = None
        for req in labels.requirements:
            values = req.index_values()
            if values is None:
                continue
            if len(values) == 1:
                candidate = b.label_index.get((req.key, values[0]), set())
            else:
                candidate = set().union(*(b.label_index.get((req.key, v), ()) for v in values))
            if best is None or len(candidate) < len(best):
                best = candidate
        return best

    # -- writes -------------------------------------------------------------------------

    def put(self, bucket: str, obj: dict, *, record: bool = True) -> Stored:
        """Create or replace ``obj`` (the caller hands over ownership), stamping a new resourceVersion."""
        b = self.bucket(bucket)
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        old = b.get(key)
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        stored = Stored(obj, dumps(obj), key)
        names = b.objects.get(key[0])
        if names is None:
            names = b.objects[key[0]] = {}
        names[key[1]] = stored
        old_obj = old.obj if old else None
        if old is None:
            b.count += 1
            b._sorted = None
        self._reindex(b, bucket, key, old_obj, obj)
        self._emit(bucket, "ADDED" if old is None else "MODIFIED", stored, old, record)
        return stored

    def remove(self, bucket: str, namespace: str, name: str) -> Stored | None:
        b = self.buckets.get(bucket)
        old = b.get((namespace, name)) if b else None
        if old is None:
            return None
        del b.objects[namespace][name]
        if not b.objects[namespace]:
            del b.objects[namespace]
        b.count -= 1
        b._sorted = None
        self._reindex(b, bucket, old.key, old.obj, None)
        # The DELETED event carries the object at a fresh resourceVersion, as etcd does.
        self.rv += 1
        final = dict(old.obj)
        final["metadata"] = dict(old.obj["metadata"], resourceVersion=str(self.rv))
        stored = Stored(final, dumps(final), old.key)
        self._emit(bucket, "DELETED", stored, old, True)
        return stored

    def _reindex(self, b: Bucket, bucket: str, key, old: dict | None, new: dict | None) -> None:
        old_meta = old["metadata"] if old else {}
        new_meta = new["metadata"] if new else {}
        old_labels = old_meta.get("labels") or {}
        new_labels = new_meta.get("labels") or {}
        if old_labels is not new_labels:
            for pair in old_labels.items():
                if new_labels.get(pair[0]) != pair[1]:
                    keys = b.label_index.get(pair)
                    if keys is not None:
                        keys.discard(key)
                        if not keys:
                            del b.label_index[pair]
            for pair in new_labels.items():
                if old_labels.get(pair[0]) != pair[1]:
                    b.label_index.setdefault(pair, set()).add(key)
        old_uid, new_uid = old_meta.get("uid"), new_meta.get("uid")
        if old_uid and old_uid != new_uid:
            self.uids.pop(old_uid, None)
        if new_uid:
            self.uids[new_uid] = (bucket, key)
        old_owners = {r.get("uid") for r in old_meta.get("ownerReferences") or ()}
        new_owners = {r.get("uid") for r in new_meta.get("ownerReferences") or ()}
        for uid in old_owners - new_owners:
            deps = self.dependents.get(uid)
            if deps is not None:
                deps.discard((bucket, key))
                if not deps:
                    del self.dependents[uid]
        for uid in new_owners - old_owners:
            self.dependents.setdefault(uid, set()).add((bucket, key))

    def _emit(self, bucket: str, type_: str, stored: Stored, old: Stored | None, record: bool) -> None:
        old_obj = old.obj if old is not None else None
        side = self.side_histories.get(bucket)
        if side is not None:
            side.entries.append(WatchEvent(self.rv, bucket, type_, stored, old.raw if old is not None else None))
            if len(side.entries) > self.history_size:
                side.compacted_rv = side.entries.popleft().rv
        elif record:
            self.history.append(WatchEvent(self.rv, bucket, type_, stored, old.raw if old is not None else None))
            if len(self.history) > self.history_size:
                self.compacted_rv = self.history.popleft().rv
        else:
            self.compacted_rv = self.rv
        for listener in self.listeners:
            listener(type_, bucket, old_obj, stored.obj)
        for watcher in self.watchers.get(bucket, ()):
            watcher.offer(type_, stored, old_obj)

    # -- watch --------------------------------------------------------------------------

    def compact(self) -> int:
        """Forget all history, like etcd compaction: older resourceVersions now get 410."""
        self.history.clear()
        self.compacted_rv = self.rv
        for side in self.side_histories.values():
            side.entries.clear()
            side.compacted_rv = self.rv
        return self.rv

    def events_since(self, bucket: str, rv: int) -> list[WatchEvent]:
        side = self.side_histories.get(bucket)
        history, compacted_rv = (side.entries, side.compacted_rv) if side else (self.history, self.compacted_rv)
        if rv < compacted_rv:
            raise gone(f"too old resource version: {rv} ({compacted_rv})")
        found = []
        for event in reversed(history):
            if event.rv <= rv:
                break
            if event.bucket == bucket:
                found.append(event)
        found.reverse()
        return found

    def add_watcher(self, watcher: Watcher) -> None:
        self.watchers.setdefault(watcher.bucket, set()).add(watcher)

    def remove_watcher(self, watcher: Watcher) -> None:
        watchers = self.watchers.get(watcher.bucket)
        if watchers is not None:
            watchers.discard(watcher)

    def drop_bucket(self, bucket: str) -> None:
        self.buckets.pop(bucket, None)
