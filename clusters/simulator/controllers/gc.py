"""Garbage collector and namespace teardown.

GC: when an owner disappears, dependents whose every owner is gone are deleted (and
their own dependents after them); dependents with another live owner just lose the
dangling reference. Objects created pointing only at owners that do not exist are
collected too, as the real GC does. Unknown owner kinds are left alone.

Namespaces: deleting one marks it Terminating; this controller then removes everything
in it and finally the namespace itself.
"""
from __future__ import annotations

from .base import Controller


class GarbageCollector(Controller):
    watches = ("*",)

    def handle(self, type_, bucket, old, new):
        if type_ == "DELETED":
            uid = new["metadata"].get("uid")
            if uid and uid in self.store.dependents:
                self.enqueue(("owner-gone", uid))
        elif type_ == "ADDED" and new["metadata"].get("ownerReferences"):
            meta = new["metadata"]
            self.enqueue(("check", bucket, meta.get("namespace", ""), meta["name"]))

    def reconcile(self, item) -> None:
        if item[0] == "owner-gone":
            for bucket, dependent in self.store.dependents_of(item[1]):
                self._collect(bucket, dependent)
        else:
            stored = self.store.get(item[1], item[2], item[3])
            if stored is not None:
                self._collect(item[1], stored)

    def _collect(self, bucket: str, stored) -> None:
        refs = stored.obj["metadata"].get("ownerReferences") or []
        gone = [r.get("uid") for r in refs if not self._owner_alive(r)]
        if not gone:
            return
        if len(gone) == len(refs):
            self.api.remove_now(bucket, stored)
        else:
            for uid in gone:
                current = self.store.get(bucket, *stored.key)
                if current is not None:
                    self.api.drop_owner_reference(bucket, current, uid)

    def _owner_alive(self, ref: dict) -> bool:
        if self.store.by_uid(ref.get("uid", "")) is not None:
            return True
        # An owner of a kind this cluster does not serve cannot be checked; keep the dependent.
        return self.api.registry.by_api_version_kind(ref.get("apiVersion", ""), ref.get("kind", "")) is None


class Namespaces(Controller):
    watches = ("namespaces",)

    def handle(self, type_, bucket, old, new):
        if type_ == "MODIFIED" and new["metadata"].get("deletionTimestamp"):
            self.enqueue(new["metadata"]["name"])

    def reconcile(self, name) -> None:
        stored = self.store.get("namespaces", "", name)
        if stored is None or not stored.obj["metadata"].get("deletionTimestamp"):
            return
        for bucket in list(self.store.buckets):
            if bucket == "namespaces":
                continue
            for item in self.store.select(bucket, name):
                self.api.remove_now(bucket, item)
        self.store.remove("namespaces", "", name)
