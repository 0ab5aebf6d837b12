"""StatefulSet controller: ordinal pods ``<name>-0 .. <name>-N-1``.

OrderedReady (the default) creates pod i only when pods 0..i-1 are ready and removes
the highest ordinal first; Parallel creates and removes all at once. A template change
under RollingUpdate replaces pods from the highest ordinal down (respecting
``partition``), one at a time, each only after the previous replacement is ready. Pod creations and deletions are
Events on the StatefulSet, worded as the statefulset-controller does.
"""
from __future__ import annotations

import re

from ..errors import ApiError
from .base import Controller, owner_key, spec_changed
from .deployments import template_hash
from .podutil import is_active, is_ready
from .replicasets import owned_pods, pod_from_template

REVISION_LABEL = "controller-revision-hash"
COMPONENT = "statefulset-controller"


class StatefulSets(Controller):
    watches = ("statefulsets.apps", "pods")

    def __init__(self, manager):
        super().__init__(manager)
        self.pods_kind = self.api.registry.lookup("", "v1", "pods")

    def handle(self, type_, bucket, old, new):
        if bucket == "statefulsets.apps":
            if spec_changed(type_, old, new):
                self.enqueue((new["metadata"]["namespace"], new["metadata"]["name"]))
            return
        for obj in (old, new):
            if obj is not None:
                key = owner_key(obj["metadata"], "StatefulSet")
                if key is not None:
                    self.enqueue(key)

    def reconcile(self, key) -> None:
        stored = self.store.get("statefulsets.apps", *key)
        if stored is None or stored.obj["metadata"].get("deletionTimestamp"):
            return
        sts = stored.obj
        name = sts["metadata"]["name"]
        spec = sts["spec"]
        replicas = spec.get("replicas", 1)
        revision = f"{name}-{template_hash(spec.get('template') or {})}"
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        pattern = re.compile(re.escape(name) + r"-(\d+)")
        pods = {}
        for p in owned_pods(self.store, sts["metadata"]["uid"]):
            m = pattern.fullmatch(p.obj["metadata"]["name"])
            if m:
                pods[int(m.group(1))] = p.obj
        self._sync(sts, pods, replicas, revision, ordered)
        self._update_status(key, revision)

    def _sync(self, sts: dict, pods: dict, replicas: int, revision: str, ordered: bool) -> None:
        for ordinal in range(replicas):
            pod = pods.get(ordinal)
            if pod is None:
                self._create(sts, ordinal, revision)
                if ordered:
                    return
            elif ordered and not is_ready(pod):
                return
        surplus = sorted((o for o in pods if o >= replicas), reverse=True)
        for ordinal in surplus[:1] if ordered else surplus:
            self._delete(sts, pods[ordinal])
        if surplus:
            return
        strategy = sts["spec"].get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        partition = (strategy.get("rollingUpdate") or {}).get("partition", 0) or 0
        if not all(is_ready(pods[o]) for o in range(replicas) if o in pods):
            return  # replace one pod at a time, each after the cluster is healthy again
        for ordinal in range(replicas - 1, partition - 1, -1):
            pod = pods.get(ordinal)
            if pod is not None and (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision:
                self._delete(sts, pod)
                return

    def _delete(self, sts: dict, pod: dict) -> None:
        name = pod["metadata"]["name"]
        self.api.delete(self.pods_kind, sts["metadata"]["namespace"], name)
        self.events.record(sts, "Normal", "SuccessfulDelete",
                           f"delete Pod {name} in StatefulSet {sts['metadata']['name']} successful", COMPONENT)

    def _create(self, sts: dict, ordinal: int, revision: str) -> None:
        name = f"{sts['metadata']['name']}-{ordinal}"
        labels = {REVISION_LABEL: revision, "statefulset.kubernetes.io/pod-name": name,
                  "apps.kubernetes.io/pod-index": str(ordinal)}
        extra = {"hostname": name}
        if sts["spec"].get("serviceName"):
            extra["subdomain"] = sts["spec"]["serviceName"]
        pod = pod_from_template(sts, sts["spec"].get("template") or {}, name=name, extra_labels=labels,
                                spec_extra=extra)
        where = f"Pod {name} in StatefulSet {sts['metadata']['name']}"
        try:
            self.api.create(self.pods_kind, sts["metadata"]["namespace"], pod)
        except ApiError as exc:
            self.events.record(sts, "Warning", "FailedCreate", f"create {where} failed error: {exc.message}",
                               COMPONENT)
            raise
        self.events.record(sts, "Normal", "SuccessfulCreate", f"create {where} successful", COMPONENT)

    def _update_status(self, key, revision: str) -> None:
        stored = self.store.get("statefulsets.apps", *key)
        if stored is None:
            return
        obj = stored.thaw()
        pods = [p.obj for p in owned_pods(self.store, obj["metadata"]["uid"]) if is_active(p.obj)]
        updated = sum(1 for p in pods if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == revision)
        ready = sum(1 for p in pods if is_ready(p))
        previous = obj.get("status") or {}
        current_revision = previous.get("currentRevision") or revision
        if updated == len(pods) == obj["spec"].get("replicas", 1):
            current_revision = revision  # the rollout is complete
        current = sum(1 for p in pods if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == current_revision)
        status = {"replicas": len(pods), "readyReplicas": ready, "currentReplicas": current,
                  "updatedReplicas": updated, "availableReplicas": ready,
                  "currentRevision": current_revision, "updateRevision": revision,
                  "observedGeneration": obj["metadata"].get("generation", 1), "collisionCount": 0}
        obj["status"] = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        self.save("statefulsets.apps", obj, stored)
