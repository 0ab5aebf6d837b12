"""ReplicaSet controller: keeps the number of active pods equal to spec.replicas.

Pods are created through the API server path (defaults, validation, quota admission),
so a namespace over quota makes the ReplicaSet report ``ReplicaFailure`` and retry,
as on a real cluster. Surplus pods are removed least-valuable first: unscheduled,
then not ready, then the newest. Each creation, deletion and refusal is an Event on the
ReplicaSet (SuccessfulCreate, SuccessfulDelete, FailedCreate), as the replicaset-controller
records them.
"""
from __future__ import annotations

import calendar
import json
import time

from ..apiserver import now_iso
from ..errors import ApiError
from .base import Controller, owner_key, owner_reference, spec_changed
from .podutil import is_active, is_ready

COMPONENT = "replicaset-controller"
BURST = 500  # pods created or deleted per reconcile, like the real controller's slow-start cap


def pod_from_template(owner: dict, template: dict, *, name: str | None = None,
                      extra_labels: dict | None = None, spec_extra: dict | None = None) -> dict:
    template = json.loads(json.dumps(template))
    meta = template.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    labels.update(extra_labels or {})
    pod_meta = {"labels": labels, "ownerReferences": [owner_reference(owner)]}
    if meta.get("annotations"):
        pod_meta["annotations"] = meta["annotations"]
    if name:
        pod_meta["name"] = name
    else:
        pod_meta["generateName"] = owner["metadata"]["name"] + "-"
    spec = template.get("spec") or {}
    spec.update(spec_extra or {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def _parse_time(text: str | None) -> float:
    if not text:
        return 0.0
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))


def available(pod: dict, min_ready_seconds: int, now: float) -> bool:
    if not is_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    for cond in pod["status"].get("conditions") or ():
        if cond.get("type") == "Ready":
            return now - _parse_time(cond.get("lastTransitionTime")) >= min_ready_seconds
    return False


def owned_pods(store, owner_uid: str) -> list:
    return [stored for bucket, stored in store.dependents_of(owner_uid)
            if bucket == "pods" and is_active(stored.obj)]


def _deletion_rank(stored):
    pod = stored.obj
    scheduled = bool((pod.get("spec") or {}).get("nodeName"))
    ready = is_ready(pod)
    created = pod["metadata"].get("creationTimestamp", "")
    # Sort ascending: unscheduled, then not ready, then ready; newest first within each.
    return (scheduled, ready, "".join(chr(0x10FFFF - ord(c)) for c in created), pod["metadata"]["name"])


class ReplicaSets(Controller):
    watches = ("replicasets.apps", "pods")

    def __init__(self, manager):
        super().__init__(manager)
        self.pods_kind = self.api.registry.lookup("", "v1", "pods")

    def handle(self, type_, bucket, old, new):
        if bucket == "replicasets.apps":
            if spec_changed(type_, old, new):
                meta = new["metadata"]
                self.enqueue((meta["namespace"], meta["name"]))
            return
        for obj in (old, new):
            if obj is not None:
                key = owner_key(obj["metadata"], "ReplicaSet")
                if key is not None:
                    self.enqueue(key)

    def reconcile(self, key) -> None:
        stored = self.store.get("replicasets.apps", *key)
        if stored is None or stored.obj["metadata"].get("deletionTimestamp"):
            return
        rs = stored.obj
        pods = owned_pods(self.store, rs["metadata"]["uid"])
        wanted = rs["spec"].get("replicas", 1)
        failure = None
        if len(pods) < wanted:
            failure = self._create(rs, min(wanted - len(pods), BURST))
            pods = owned_pods(self.store, rs["metadata"]["uid"])
        elif len(pods) > wanted:
            for victim in sorted(pods, key=_deletion_rank)[:min(len(pods) - wanted, BURST)]:
                meta = victim.obj["metadata"]
                self.api.delete(self.pods_kind, meta["namespace"], meta["name"])
                self.events.record(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}", COMPONENT)
            pods = owned_pods(self.store, rs["metadata"]["uid"])
        self._update_status(key, pods, failure)
        if failure is not None:
            self.enqueue_later(min(max(self.ready_delay * 5, 0.2), 2.0), key)

    def _create(self, rs: dict, count: int) -> str | None:
        template = rs["spec"].get("template") or {}
        for _ in range(count):
            try:
                pod = self.api.create(self.pods_kind, rs["metadata"]["namespace"], pod_from_template(rs, template))
            except ApiError as exc:
                self.events.record(rs, "Warning", "FailedCreate", f"Error creating: {exc.message}", COMPONENT)
                return exc.message
            self.events.record(rs, "Normal", "SuccessfulCreate", f"Created pod: {pod.obj['metadata']['name']}",
                               COMPONENT)
        return None

    def _update_status(self, key, pods: list, failure: str | None) -> None:
        stored = self.store.get("replicasets.apps", *key)
        if stored is None:
            return
        obj = stored.thaw()
        min_ready = obj["spec"].get("minReadySeconds", 0) or 0
        now = time.time()
        ready = sum(1 for p in pods if is_ready(p.obj))
        avail = sum(1 for p in pods if available(p.obj, min_ready, now))
        status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
                  "availableReplicas": avail, "observedGeneration": obj["metadata"].get("generation", 1)}
        conditions = [c for c in (obj.get("status") or {}).get("conditions") or () if c.get("type") != "ReplicaFailure"]
        if failure:
            previous = next((c for c in (obj.get("status") or {}).get("conditions") or ()
                             if c.get("type") == "ReplicaFailure"), None)
            conditions.append({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                               "message": failure,
                               "lastTransitionTime": previous["lastTransitionTime"] if previous else now_iso()})
        if conditions:
            status["conditions"] = conditions
        obj["status"] = status
        self.save("replicasets.apps", obj, stored)
        if min_ready and ready > avail:
            self.enqueue_later(min_ready, key)
