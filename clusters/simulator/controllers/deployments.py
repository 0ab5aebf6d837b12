"""Deployment controller: one ReplicaSet per pod template, rolled over with RollingUpdate
(honouring maxSurge / maxUnavailable) or Recreate, and a status that ``kubectl rollout
status`` and the product's health gates can read.

Availability is counted from the pods themselves (not from possibly stale ReplicaSet
status), so old pods are only removed while the available count stays at or above
``replicas - maxUnavailable``. Every resize of a ReplicaSet is a ScalingReplicaSet Event
on the Deployment, as the deployment-controller records it.
"""
from __future__ import annotations

import hashlib
import json
import math
import time

from ..apiserver import now_iso
from ..errors import ApiError
from .base import Controller, owner_key, owner_reference, spec_changed
from .podutil import is_ready
from .replicasets import available, owned_pods

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
COMPONENT = "deployment-controller"


def template_hash(template: dict) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True, separators=(",", ":")).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def resolve(value, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value or 0)


def surge_and_unavailable(deployment: dict) -> tuple[int, int]:
    spec = deployment["spec"]
    replicas = spec.get("replicas", 1)
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    surge = resolve(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = resolve(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # the API server forbids both being zero; the controller guards too
    return surge, unavailable


def _revision(rs: dict) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


class Deployments(Controller):
    watches = ("deployments.apps", "replicasets.apps")

    def __init__(self, manager):
        super().__init__(manager)
        self.rs_kind = self.api.registry.lookup("apps", "v1", "replicasets")

    def handle(self, type_, bucket, old, new):
        if bucket == "deployments.apps":
            if spec_changed(type_, old, new):
                self.enqueue((new["metadata"]["namespace"], new["metadata"]["name"]))
            return
        for obj in (old, new):
            if obj is not None:
                key = owner_key(obj["metadata"], "Deployment")
                if key is not None:
                    self.enqueue(key)

    def reconcile(self, key) -> None:
        stored = self.store.get("deployments.apps", *key)
        if stored is None or stored.obj["metadata"].get("deletionTimestamp"):
            return
        deployment = stored.obj
        uid = deployment["metadata"]["uid"]
        sets = [s.obj for b, s in self.store.dependents_of(uid)
                if b == "replicasets.apps" and not s.obj["metadata"].get("deletionTimestamp")]
        spec = deployment["spec"]
        hash_ = template_hash(spec.get("template") or {})
        new_rs = next((rs for rs in sets if (rs["metadata"].get("labels") or {}).get(HASH_LABEL) == hash_), None)
        old_sets = sorted((rs for rs in sets if rs is not new_rs), key=lambda rs: rs["metadata"]["creationTimestamp"])
        if not spec.get("paused"):
            if new_rs is None:
                new_rs = self._create_rs(deployment, hash_, old_sets)
            if new_rs is not None:
                if (spec.get("strategy") or {}).get("type") == "Recreate":
                    self._recreate(deployment, new_rs, old_sets)
                else:
                    self._rolling(deployment, new_rs, old_sets)
                self._cleanup(deployment, old_sets)
        self._sync_revision(stored, new_rs)
        self._update_status(key, new_rs, old_sets)

    # -- replica sets -----------------------------------------------------------------

    def _create_rs(self, deployment: dict, hash_: str, old_sets: list) -> dict | None:
        spec = deployment["spec"]
        meta = deployment["metadata"]
        template = json.loads(json.dumps(spec.get("template") or {}))
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = hash_
        selector = json.loads(json.dumps(spec["selector"]))
        selector.setdefault("matchLabels", {})[HASH_LABEL] = hash_
        replicas = spec.get("replicas", 1)
        surge, _ = surge_and_unavailable(deployment)
        revision = max((_revision(rs) for rs in old_sets), default=0) + 1
        start = 0 if old_sets and any(rs["spec"].get("replicas") for rs in old_sets) else replicas
        rs = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{hash_}", "namespace": meta["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {REVISION: str(revision),
                                "deployment.kubernetes.io/desired-replicas": str(replicas),
                                "deployment.kubernetes.io/max-replicas": str(replicas + surge)},
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": {"replicas": start, "minReadySeconds": spec.get("minReadySeconds", 0),
                     "selector": selector, "template": template},
        }
        try:
            created = self.api.create(self.rs_kind, meta["namespace"], rs).obj
            if start:
                self._scaled(deployment, created, 0, start)
            return created
        except ApiError as exc:
            if exc.code != 409:
                raise
            existing = self.store.get("replicasets.apps", meta["namespace"], rs["metadata"]["name"])
            return existing.obj if existing else None

    def _scale(self, rs: dict, replicas: int) -> dict:
        if rs["spec"].get("replicas") == replicas:
            return rs
        meta = rs["metadata"]
        stored = self.store.get("replicasets.apps", meta["namespace"], meta["name"])
        obj = stored.thaw()
        before = obj["spec"].get("replicas", 0)
        obj["spec"]["replicas"] = replicas
        updated = self.api.update(self.rs_kind, meta["namespace"], meta["name"], obj).obj
        owner = self.store.by_uid(next((r.get("uid") for r in meta.get("ownerReferences") or ()
                                        if r.get("kind") == "Deployment"), ""))
        if owner is not None:
            self._scaled(owner.obj, updated, before, replicas)
        return updated

    def _scaled(self, deployment: dict, rs: dict, before: int, after: int) -> None:
        direction = "up" if after > before else "down"
        self.events.record(deployment, "Normal", "ScalingReplicaSet",
                           f"Scaled {direction} replica set {rs['metadata']['name']} from {before} to {after}",
                           COMPONENT)

    def _size(self, rs: dict) -> int:
        return max(rs["spec"].get("replicas", 0), len(owned_pods(self.store, rs["metadata"]["uid"])))

    def _available(self, rs: dict) -> int:
        min_ready = rs["spec"].get("minReadySeconds", 0) or 0
        now = time.time()
        return sum(1 for p in owned_pods(self.store, rs["metadata"]["uid"]) if available(p.obj, min_ready, now))

    def _rolling(self, deployment: dict, new_rs: dict, old_sets: list) -> None:
        replicas = deployment["spec"].get("replicas", 1)
        surge, max_unavailable = surge_and_unavailable(deployment)
        if not any(rs["spec"].get("replicas") for rs in old_sets):
            self._scale(new_rs, replicas)  # nothing to roll over: plain scaling
            return
        new_count = new_rs["spec"].get("replicas", 0)
        # Count pods that exist but whose ReplicaSet has not removed them yet, so a fast
        # scale-up never overshoots maxSurge while an old ReplicaSet is still shrinking.
        total = self._size(new_rs) + sum(self._size(rs) for rs in old_sets)
        if new_count > replicas:
            new_rs = self._scale(new_rs, replicas)
        elif new_count < replicas and total < replicas + surge:
            new_rs = self._scale(new_rs, new_count + min(replicas + surge - total, replicas - new_count))
        new_count = new_rs["spec"].get("replicas", 0)
        min_available = replicas - max_unavailable
        all_total = new_count + sum(rs["spec"].get("replicas", 0) for rs in old_sets)
        new_available = self._available(new_rs)
        max_scaled_down = all_total - min_available - (new_count - new_available)
        if max_scaled_down <= 0:
            return
        # First drop old pods that are not available anyway: it costs no availability.
        old_available = {rs["metadata"]["uid"]: self._available(rs) for rs in old_sets}
        cleaned = 0
        for i, rs in enumerate(old_sets):
            unhealthy = rs["spec"].get("replicas", 0) - old_available[rs["metadata"]["uid"]]
            if cleaned >= max_scaled_down or unhealthy <= 0:
                continue
            step = min(unhealthy, max_scaled_down - cleaned)
            old_sets[i] = self._scale(rs, rs["spec"]["replicas"] - step)
            cleaned += step
        # Then remove available old pods only down to the availability floor.
        available_now = new_available + sum(old_available.values())
        budget = available_now - min_available
        for i, rs in enumerate(old_sets):
            if budget <= 0:
                break
            count = rs["spec"].get("replicas", 0)
            step = min(count, budget)
            if step:
                old_sets[i] = self._scale(rs, count - step)
                budget -= step

    def _recreate(self, deployment: dict, new_rs: dict, old_sets: list) -> None:
        for i, rs in enumerate(old_sets):
            old_sets[i] = self._scale(rs, 0)
        if any(owned_pods(self.store, rs["metadata"]["uid"]) for rs in old_sets):
            return  # Recreate waits for every old pod to be gone
        self._scale(new_rs, deployment["spec"].get("replicas", 1))

    def _cleanup(self, deployment: dict, old_sets: list) -> None:
        limit = deployment["spec"].get("revisionHistoryLimit", 10)
        idle = [rs for rs in old_sets if not rs["spec"].get("replicas")
                and not owned_pods(self.store, rs["metadata"]["uid"])]
        idle.sort(key=_revision)
        for rs in idle[:max(len(idle) - limit, 0)]:
            self.api.delete(self.rs_kind, rs["metadata"]["namespace"], rs["metadata"]["name"])
            old_sets.remove(rs)

    def _sync_revision(self, stored, new_rs: dict | None) -> None:
        if new_rs is None:
            return
        revision = str(_revision(new_rs))
        if (stored.obj["metadata"].get("annotations") or {}).get(REVISION) == revision:
            return
        obj = stored.thaw()
        obj["metadata"].setdefault("annotations", {})[REVISION] = revision
        self.save("deployments.apps", obj, stored)

    # -- status -----------------------------------------------------------------------

    def _update_status(self, key, new_rs: dict | None, old_sets: list) -> None:
        stored = self.store.get("deployments.apps", *key)
        if stored is None:
            return
        obj = stored.thaw()
        spec = obj["spec"]
        replicas = spec.get("replicas", 1)
        now = time.time()
        min_ready = spec.get("minReadySeconds", 0) or 0
        counts = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "updatedReplicas": 0}
        for rs in ([new_rs] if new_rs else []) + [s for s in old_sets if s is not None]:
            pods = owned_pods(self.store, rs["metadata"]["uid"])
            counts["replicas"] += len(pods)
            counts["readyReplicas"] += sum(1 for p in pods if is_ready(p.obj))
            counts["availableReplicas"] += sum(1 for p in pods if available(p.obj, min_ready, now))
            if rs is new_rs:
                counts["updatedReplicas"] = len(pods)
        _, max_unavailable = surge_and_unavailable(obj)
        counts["unavailableReplicas"] = max(replicas - counts["availableReplicas"], 0)
        status = {k: v for k, v in counts.items() if v}  # zero counts are omitted, as by the real API
        status["observedGeneration"] = obj["metadata"].get("generation", 1)
        old_conditions = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or ()}
        stamp = now_iso()

        def condition(type_, ok, reason, message):
            previous = old_conditions.get(type_)
            value = "True" if ok else "False"
            transition = previous["lastTransitionTime"] if previous and previous.get("status") == value else stamp
            same = previous and previous.get("reason") == reason and previous.get("status") == value
            return {"type": type_, "status": value, "reason": reason, "message": message,
                    "lastUpdateTime": previous.get("lastUpdateTime", stamp) if same else stamp,
                    "lastTransitionTime": transition}

        has_min = counts["availableReplicas"] >= replicas - max_unavailable
        conditions = [condition("Available", has_min, "MinimumReplicasAvailable" if has_min else "MinimumReplicasUnavailable",
                                "Deployment has minimum availability." if has_min
                                else "Deployment does not have minimum availability.")]
        if new_rs is not None:
            name = new_rs["metadata"]["name"]
            done = (counts["updatedReplicas"] == replicas and counts["replicas"] == replicas
                    and counts["availableReplicas"] >= replicas)
            conditions.append(condition(
                "Progressing", True, "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
                f'ReplicaSet "{name}" has successfully progressed.' if done else f'ReplicaSet "{name}" is progressing.'))
            failure = next((c for c in (new_rs.get("status") or {}).get("conditions") or ()
                            if c.get("type") == "ReplicaFailure"), None)
            current = self.store.get("replicasets.apps", key[0], name)
            if current is not None:
                failure = next((c for c in (current.obj.get("status") or {}).get("conditions") or ()
                                if c.get("type") == "ReplicaFailure"), None)
            if failure:
                conditions.append(condition("ReplicaFailure", True, "FailedCreate", failure.get("message", "")))
        status["conditions"] = conditions
        obj["status"] = status
        self.save("deployments.apps", obj, stored)
