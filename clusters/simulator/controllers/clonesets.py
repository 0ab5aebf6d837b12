"""OpenKruise CloneSet controller (``apps.kruise.io/v1alpha1``), after kruise-manager v1.9.0's
``pkg/controller/cloneset``: every simulated cluster has OpenKruise installed (its CRD is
created at bootstrap), and this is the controller that makes CloneSets work.

Per reconcile: find or create the ControllerRevision of the current template (named
``<cloneset>-<hash>``, numbered, the previous one re-numbered on a rollback, history
trimmed to ``revisionHistoryLimit``), then scale (create pods named
``<cloneset>-<instance id>``, delete surplus or ``specified-delete`` pods, parking them in
PreparingDelete while ``lifecycle.preDelete`` hooks them) and, when scaling changed
nothing, update (``cloneset_update``), and write Kruise's status.

Pods carry ``controller-revision-hash`` (the revision name), ``pod-template-hash`` (its
hash), ``apps.kruise.io/cloneset-instance-id``, ``lifecycle.apps.kruise.io/state`` and the
``InPlaceUpdateReady`` readiness gate, as Kruise's pods do. Kruise's expectations (waiting
for its informer to see its own writes) are not needed: the store here is synchronous.

Not simulated: volumeClaimTemplates, priority/scatter strategies, in-place grace periods,
``markPodNotReady``, pre-download image jobs, PodUnavailableBudget.
"""
from __future__ import annotations

import json
import random
import time

from .. import kruise as k
from ..apiserver import now_iso
from ..selectors import selector_object_to_string
from .base import Controller, owner_key, owner_reference
from .cloneset_update import (
    COMPONENT,
    CloneSetUpdates,
    at_revision,
    available,
    calculate_diffs,
    is_hooked,
    lifecycle_state,
    short_hash,
    specified_delete,
    update_order,
    update_ready,
)
from .podutil import is_active
from .replicasets import _parse_time, pod_from_template

REVISIONS = "controllerrevisions.apps"
HISTORY_HASH = "controller.kubernetes.io/hash"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand's alphabet
BURST = 500


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def revision_hash(data: dict, collisions: int) -> str:
    """history.HashControllerRevision: fnv32a of the data (and the collision count), written
    with rand.SafeEncodeString, so names look like Kruise's (``web-5c9f6d8b7b``)."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    if collisions:
        raw += str(collisions).encode()
    return "".join(_SAFE[int(d) % len(_SAFE)] for d in str(_fnv32a(raw)))


def _spec(cs: dict) -> dict:
    return cs.get("spec") or {}


class CloneSets(CloneSetUpdates, Controller):
    watches = (k.CLONESET_BUCKET, "pods")

    def __init__(self, manager):
        super().__init__(manager)
        self.pods_kind = self.api.registry.lookup("", "v1", "pods")
        self.revisions_kind = self.api.registry.lookup("apps", "v1", "controllerrevisions")

    def handle(self, type_, bucket, old, new):
        if bucket == k.CLONESET_BUCKET:
            if type_ != "DELETED" and (old is None or old.get("spec") != new.get("spec")
                                       or old["metadata"].get("deletionTimestamp") != new["metadata"].get("deletionTimestamp")):
                self.enqueue((new["metadata"]["namespace"], new["metadata"]["name"]))
            return
        for obj in (old, new):
            if obj is not None:
                key = owner_key(obj["metadata"], "CloneSet")
                if key is not None:
                    self.enqueue(key)

    # -- writes -------------------------------------------------------------------------

    def _pod_write(self, pod: dict, change) -> dict:
        """Apply ``change`` to the pod as stored now (conflicts retry the whole reconcile)."""
        meta = pod["metadata"]
        stored = self.store.get("pods", meta["namespace"], meta["name"])
        if stored is None:
            return pod
        obj = stored.thaw()
        change(obj)
        return self.api.update(self.pods_kind, meta["namespace"], meta["name"], obj).obj

    # -- reconcile ----------------------------------------------------------------------

    def reconcile(self, key) -> None:
        stored = self.store.get(k.CLONESET_BUCKET, *key)
        if stored is None or stored.obj["metadata"].get("deletionTimestamp"):
            return
        cs = stored.obj
        if not _spec(cs).get("selector") or not (_spec(cs).get("template") or {}).get("spec"):
            return  # ValidatedLabelSelectorAsSelector failed: Kruise gives up on it too
        pods = self._pods(cs)
        revisions = self._revisions(cs)
        collisions = int((cs.get("status") or {}).get("collisionCount") or 0)
        update, collisions, revisions = self._update_revision(cs, revisions, collisions)
        current = next((r for r in revisions if r["metadata"]["name"] == (cs.get("status") or {}).get("currentRevision")),
                       update)
        failures = {}
        scaled, error = self._scale(cs, pods, current, update)
        if error:
            failures["FailedScale"] = error
        if not scaled:
            error = self._update(cs, pods, current, update, revisions)
            if error:
                failures["FailedUpdate"] = error
        self._write_status(key, current, update, collisions, failures)
        self._truncate_history(cs, revisions, current, update)
        min_ready = _spec(cs).get("minReadySeconds", 0) or 0
        if min_ready:
            self.enqueue_later(min_ready, key)

    def _pods(self, cs: dict) -> list[dict]:
        return [stored.obj for bucket, stored in self.store.dependents_of(cs["metadata"]["uid"])
                if bucket == "pods" and is_active(stored.obj)]

    def _revisions(self, cs: dict) -> list[dict]:
        found = [stored.obj for bucket, stored in self.store.dependents_of(cs["metadata"]["uid"]) if bucket == REVISIONS]
        return sorted(found, key=lambda r: (r.get("revision", 0), r["metadata"]["creationTimestamp"]))

    # -- revisions ----------------------------------------------------------------------

    def _update_revision(self, cs: dict, revisions: list[dict], collisions: int):
        """getActiveRevisions: reuse the newest equal revision (re-numbered when it is not the
        latest, i.e. a rollback), or create one."""
        template = json.loads(json.dumps(_spec(cs).get("template") or {}))
        template["$patch"] = "replace"
        data = {"spec": {"template": template}}
        next_number = (revisions[-1].get("revision", 0) + 1) if revisions else 1
        equal = [r for r in revisions if r.get("data") == data]
        if equal and equal[-1] is revisions[-1]:
            return revisions[-1], collisions, revisions
        if equal:
            obj = json.loads(json.dumps(equal[-1]))
            obj["revision"] = next_number
            meta = obj["metadata"]
            updated = self.api.update(self.revisions_kind, meta["namespace"], meta["name"], obj).obj
            revisions = sorted([r for r in revisions if r is not equal[-1]] + [updated],
                               key=lambda r: r.get("revision", 0))
            return updated, collisions, revisions
        meta = cs["metadata"]
        while True:
            hash_ = revision_hash(data, collisions)
            name = f"{meta['name']}-{hash_}"
            existing = self.store.get(REVISIONS, meta["namespace"], name)
            if existing is None:
                break
            if existing.obj.get("data") == data:  # orphaned equal revision: adopt its name
                return existing.obj, collisions, revisions
            collisions += 1
        labels = dict(((_spec(cs).get("template") or {}).get("metadata") or {}).get("labels") or {})
        labels[HISTORY_HASH] = hash_
        annotations = {key: value for key, value in (meta.get("annotations") or {}).items()
                       if key != "kubectl.kubernetes.io/last-applied-configuration"}
        revision = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                    "metadata": {"name": name, "namespace": meta["namespace"], "labels": labels,
                                 "ownerReferences": [owner_reference(cs)]},
                    "data": data, "revision": next_number}
        if annotations:
            revision["metadata"]["annotations"] = annotations
        created = self.api.create(self.revisions_kind, meta["namespace"], revision).obj
        return created, collisions, revisions + [created]

    def _truncate_history(self, cs: dict, revisions: list[dict], current: dict, update: dict) -> None:
        live = {current["metadata"]["name"], update["metadata"]["name"]}
        live |= {(p["metadata"].get("labels") or {}).get(k.REVISION_LABEL) for p in self._pods(cs)}
        idle = [r for r in revisions if r["metadata"]["name"] not in live]
        limit = _spec(cs).get("revisionHistoryLimit", 10)
        for revision in idle[:max(len(idle) - (limit if isinstance(limit, int) else 10), 0)]:
            self.api.delete(self.revisions_kind, revision["metadata"]["namespace"], revision["metadata"]["name"])

    # -- scale --------------------------------------------------------------------------

    def _scale(self, cs: dict, pods: list[dict], current: dict, update: dict) -> tuple[bool, str | None]:
        """realControl.Scale: (whether anything changed, an error for FailedScale)."""
        spec = _spec(cs)
        replicas = spec.get("replicas", 1)
        to_delete = [p for p in pods if specified_delete(cs, p)]
        pre_delete = [p for p in pods if lifecycle_state(p) == k.PREPARING_DELETE]
        planned = len({p["metadata"]["name"] for p in to_delete + pre_delete})
        # Scaled back up while pods waited in PreparingDelete: they return to PreparingNormal.
        room = replicas - len(pods) + planned
        modified = False
        for pod in pre_delete:
            if room <= 0:
                break
            if not specified_delete(cs, pod):
                self._set_lifecycle(pod, k.PREPARING_NORMAL)
                modified = True
                room -= 1
        if modified:
            return True, None
        update_name, current_name = update["metadata"]["name"], current["metadata"]["name"]
        diffs = calculate_diffs(cs, pods, current_name, update_name)
        if diffs["scale_up"] > diffs["scale_up_limit"]:
            self.events.record(cs, "Warning", "ScaleUpLimited", "scaleUp is limited because of scaleStrategy."
                               f"maxUnavailable, limit: {diffs['scale_up_limit']}", COMPONENT)
        if diffs["scale_up"] > 0:
            return self._create(cs, pods, current, update, min(diffs["scale_up_limit"], BURST), diffs["scale_up_old"])
        if pre_delete and self._delete(cs, pre_delete):
            return True, None
        names = {p["metadata"]["name"] for p in pre_delete}
        doomed = [p for p in to_delete if p["metadata"]["name"] not in names]
        if doomed:
            chosen = self._within_ready_limit(doomed, diffs)
            if self._delete(cs, chosen):
                return True, None
        if diffs["scale_down"] > 0 and not planned:
            updated = [p for p in pods if at_revision(p, update_name)]
            old = [p for p in pods if not at_revision(p, update_name)]
            total, old_count = diffs["scale_down"], diffs["scale_down_old"]
            min_ready = spec.get("minReadySeconds", 0) or 0

            def choose(group, count):
                group = sorted(group, key=lambda p: (available(p, min_ready),) + update_order(p))
                return group[:count]
            if old_count >= total:
                victims = choose(old, total)
            elif old_count > 0:
                victims = choose(old, old_count) + choose(updated, total - old_count)
            else:
                victims = choose(updated, total)
            return self._delete(cs, self._within_ready_limit(victims, diffs)), None
        return False, None

    @staticmethod
    def _within_ready_limit(pods: list[dict], diffs: dict) -> list[dict]:
        """Unready pods may always go; ready ones only within deleteReadyLimit."""
        chosen = []
        for pod in pods:
            if not update_ready(pod):
                chosen.append(pod)
            elif diffs["delete_ready_limit"] > 0:
                chosen.append(pod)
                diffs["delete_ready_limit"] -= 1
        return chosen

    def _create(self, cs, pods, current, update, count: int, old_count: int) -> tuple[bool, str | None]:
        taken = {(p["metadata"].get("labels") or {}).get(k.INSTANCE_ID) for p in pods}
        created = 0
        for i in range(count):
            revision = current if i < old_count else update
            while True:
                instance = "".join(random.choice(_SAFE) for _ in range(5))
                if instance not in taken:
                    taken.add(instance)
                    break
            pod = self._new_pod(cs, revision, instance)
            try:
                made = self.api.create(self.pods_kind, cs["metadata"]["namespace"], pod).obj
            except Exception as exc:  # quota, a name taken: FailedCreate, as Kruise records it
                message = getattr(exc, "message", str(exc))
                self.events.record(cs, "Warning", "FailedCreate", f"failed to create pod: {message}", COMPONENT)
                return created > 0, message
            created += 1
            self.events.record(cs, "Normal", "SuccessfulCreate", f"succeed to create pod {made['metadata']['name']}",
                               COMPONENT)
        return created > 0, None

    def _new_pod(self, cs: dict, revision: dict, instance: str) -> dict:
        template = json.loads(json.dumps(revision["data"]["spec"]["template"]))
        template.pop("$patch", None)
        name = revision["metadata"]["name"]
        pod = pod_from_template(cs, template, name=f"{cs['metadata']['name']}-{instance}", extra_labels={
            k.REVISION_LABEL: name, k.TEMPLATE_HASH_LABEL: short_hash(name), k.INSTANCE_ID: instance,
            k.LIFECYCLE_STATE: k.PREPARING_NORMAL})
        pod["metadata"].setdefault("annotations", {})[k.LIFECYCLE_TIMESTAMP] = now_iso()
        gates = pod["spec"].setdefault("readinessGates", [])
        if not any(g.get("conditionType") == k.INPLACE_READY for g in gates):
            gates.append({"conditionType": k.INPLACE_READY})
        return pod

    def _delete(self, cs: dict, pods: list[dict]) -> bool:
        """deletePods: a pod the preDelete hook holds goes to PreparingDelete instead."""
        hook = (_spec(cs).get("lifecycle") or {}).get("preDelete")
        modified = False
        for pod in pods:
            meta = pod["metadata"]
            if is_hooked(hook, pod):
                if lifecycle_state(pod) != k.PREPARING_DELETE:
                    self._set_lifecycle(pod, k.PREPARING_DELETE)
                    modified = True
                continue
            self.api.delete(self.pods_kind, meta["namespace"], meta["name"])
            self.events.record(cs, "Normal", "SuccessfulDelete", f"succeed to delete pod {meta['name']}", COMPONENT)
            modified = True
        return modified

    # -- status -------------------------------------------------------------------------

    def _write_status(self, key, current: dict, update: dict, collisions: int, failures: dict) -> None:
        stored = self.store.get(k.CLONESET_BUCKET, *key)
        if stored is None:
            return
        obj = stored.thaw()
        spec = obj["spec"]
        replicas = spec.get("replicas", 1)
        min_ready = spec.get("minReadySeconds", 0) or 0
        update_name = update["metadata"]["name"]
        old_status = obj.get("status") or {}
        status = {"observedGeneration": obj["metadata"].get("generation", 1), "replicas": 0, "readyReplicas": 0,
                  "availableReplicas": 0, "updatedReplicas": 0, "updatedReadyReplicas": 0,
                  "updatedAvailableReplicas": 0, "currentRevision": current["metadata"]["name"],
                  "updateRevision": update_name, "collisionCount": collisions,
                  "labelSelector": selector_object_to_string(spec["selector"])}
        for pod in self._pods(obj):
            ready, is_available, updated = update_ready(pod), available(pod, min_ready), at_revision(pod, update_name)
            status["replicas"] += 1
            status["readyReplicas"] += ready
            status["availableReplicas"] += is_available
            status["updatedReplicas"] += updated
            status["updatedReadyReplicas"] += updated and ready
            status["updatedAvailableReplicas"] += updated and is_available
        if status["updatedReplicas"] == status["replicas"] == replicas:
            status["currentRevision"] = update_name
        try:
            status["expectedUpdatedReplicas"] = replicas - k.partition_replicas(
                (spec.get("updateStrategy") or {}).get("partition"), replicas)
        except (ValueError, TypeError):
            pass
        if not status["updatedAvailableReplicas"]:
            del status["updatedAvailableReplicas"]  # omitempty, as Kruise serialises it
        if not status.get("expectedUpdatedReplicas"):
            status.pop("expectedUpdatedReplicas", None)
        conditions = self._conditions(obj, status, old_status.get("conditions") or [], failures)
        if conditions:
            status["conditions"] = conditions
        obj["status"] = status
        if obj != stored.obj:
            self.api.update(self.api.registry.by_bucket(k.CLONESET_BUCKET), key[0], key[1], obj, subresource="status")

    @staticmethod
    def _conditions(cs: dict, status: dict, previous: list, failures: dict) -> list:
        """FailedScale / FailedUpdate as sync errors set them (Kruise never clears them), and
        Progressing when progressDeadlineSeconds is set."""
        stamp = now_iso()
        by_type = {c.get("type"): c for c in previous}
        for type_, message in failures.items():
            by_type[type_] = {"type": type_, "status": "True", "lastTransitionTime": stamp, "message": message}
        spec = cs["spec"]
        deadline = spec.get("progressDeadlineSeconds")
        if not isinstance(deadline, int) or deadline == 2 ** 31 - 1:
            by_type.pop("Progressing", None)
        else:
            replicas = spec.get("replicas", 1)
            old = by_type.get("Progressing") or {}
            if (status["currentRevision"] == status["updateRevision"] and status["replicas"] == replicas
                    and status["updatedReplicas"] == replicas and status.get("updatedAvailableReplicas", 0) == replicas):
                value, reason, message = "True", "CloneSetAvailable", "CloneSet is available"
            elif (spec.get("updateStrategy") or {}).get("paused"):
                value, reason, message = "True", "CloneSetPaused", "CloneSet is paused"
            elif (status.get("expectedUpdatedReplicas", 0) < replicas
                  and status.get("expectedUpdatedReplicas", 0) <= status.get("updatedAvailableReplicas", 0)):
                value, reason, message = "True", "ProgressPartitionAvailable", "CloneSet has been paused due to partition ready"
            elif old.get("reason") == "ProgressDeadlineExceeded" or (
                    old and _age_seconds(old.get("lastUpdateTime")) > deadline):
                value, reason = "False", "ProgressDeadlineExceeded"
                message = f"CloneSet revision {status['updateRevision']} has timed out progressing"
            else:
                value, reason, message = "True", "CloneSetUpdated", "CloneSet is progressing"
            same = old.get("status") == value and old.get("reason") == reason
            by_type["Progressing"] = {"type": "Progressing", "status": value, "reason": reason, "message": message,
                                      "lastUpdateTime": old.get("lastUpdateTime", stamp) if same else stamp,
                                      "lastTransitionTime": old.get("lastTransitionTime", stamp)
                                      if old.get("status") == value else stamp}
        return list(by_type.values())


def _age_seconds(stamp: str | None) -> float:
    return time.time() - _parse_time(stamp) if stamp else 0.0
