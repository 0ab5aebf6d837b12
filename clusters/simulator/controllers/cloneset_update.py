"""The update half of the CloneSet controller (a mixin of ``CloneSets``): Kruise's
``pkg/controller/cloneset/sync/cloneset_update.go``, ``calculateDiffsWithExpectation``,
``pkg/util/inplaceupdate`` and ``pkg/util/lifecycle``, ported for the simulator.

Per reconcile, as kruise-manager does:
1. refresh every pod: an in-place update whose new containers run flips the
   ``InPlaceUpdateReady`` condition back to True; lifecycle states move on
   (PreparingNormal -> Normal once scheduled; Updating -> Updated (inPlaceUpdate hook
   released) or Normal; Updated -> Normal once the hook is back). Any change ends the pass.
2. paused: stop. Otherwise the diff against ``partition`` says how many pods to move to
   the update revision; candidates are ordered (PreparingUpdate first, then not-ready,
   unscheduled, pending before running, ...) and capped by ``maxUnavailable``.
3. each chosen pod: in place when the revisions differ only in container images and pod
   metadata (labels/annotations) and the strategy allows it — first parked in
   PreparingUpdate while ``lifecycle.inPlaceUpdate`` hooks it (a labelsHandler label still
   set, or a finalizersHandler finalizer present), then InPlaceUpdateReady=False (which
   makes the pod not Ready), new revision label, state Updating, new images. Otherwise the
   pod is marked ``apps.kruise.io/specified-delete`` and the scale half recreates it.
"""
from __future__ import annotations

import json
import time

from .. import kruise as k
from ..apiserver import now_iso
from .podutil import is_ready
from .replicasets import _parse_time

COMPONENT = "cloneset-controller"


def labels_of(pod: dict) -> dict:
    return pod["metadata"].get("labels") or {}


def lifecycle_state(pod: dict) -> str:
    return labels_of(pod).get(k.LIFECYCLE_STATE, "")


def short_hash(revision: str) -> str:
    return revision.rsplit("-", 1)[-1]


def at_revision(pod: dict, revision: str) -> bool:
    """EqualToRevisionHash: the full name, or the same short hash."""
    have = labels_of(pod).get(k.REVISION_LABEL, "")
    return have == revision or short_hash(have) == short_hash(revision)


def is_hooked(hook: dict | None, pod: dict) -> bool:
    """IsPodHooked: any finalizer of the hook present, or any of its labels set to its value."""
    if not hook:
        return False
    finalizers = pod["metadata"].get("finalizers") or ()
    if any(f in finalizers for f in hook.get("finalizersHandler") or ()):
        return True
    labels = labels_of(pod)
    return any(labels.get(key) == value for key, value in (hook.get("labelsHandler") or {}).items())


def all_hooked(hook: dict | None, pod: dict) -> bool:
    """IsPodAllHooked: every finalizer present and every label set (False without a hook)."""
    if not hook:
        return False
    finalizers = pod["metadata"].get("finalizers") or ()
    labels = labels_of(pod)
    return (all(f in finalizers for f in hook.get("finalizersHandler") or ())
            and all(labels.get(key) == value for key, value in (hook.get("labelsHandler") or {}).items()))


def condition(pod: dict, type_: str) -> dict | None:
    return next((c for c in (pod.get("status") or {}).get("conditions") or () if c.get("type") == type_), None)


def update_ready(pod: dict, min_ready_seconds: int = 0) -> bool:
    """IsPodUpdateReady: running, ready (for minReadySeconds) and not in the middle of an in-place update."""
    if (pod.get("status") or {}).get("phase") != "Running" or not is_ready(pod):
        return False
    if min_ready_seconds:
        ready = condition(pod, "Ready")
        if time.time() - _parse_time((ready or {}).get("lastTransitionTime")) < min_ready_seconds:
            return False
    gate = condition(pod, k.INPLACE_READY)
    return gate is None or gate.get("status") == "True"


def available(pod: dict, min_ready_seconds: int) -> bool:
    """IsPodAvailable: lifecycle Normal (or none) and update-ready."""
    return lifecycle_state(pod) in ("", k.NORMAL) and update_ready(pod, min_ready_seconds)


def specified_delete(cs: dict, pod: dict) -> bool:
    if labels_of(pod).get(k.SPECIFIED_DELETE):
        return True
    return pod["metadata"]["name"] in ((cs["spec"].get("scaleStrategy") or {}).get("podsToDelete") or ())


def update_order(pod: dict) -> tuple:
    """kubecontroller.ActivePods' Less, ascending: unscheduled, pending, not ready, ready for
    less time, more restarts, newer — the pods an update takes first."""
    status = pod.get("status") or {}
    phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase"), 0)
    ready = is_ready(pod)
    since = _parse_time((condition(pod, "Ready") or {}).get("lastTransitionTime")) if ready else 0.0
    restarts = sum(s.get("restartCount", 0) for s in status.get("containerStatuses") or ())
    created = _parse_time(pod["metadata"].get("creationTimestamp"))
    return (bool((pod.get("spec") or {}).get("nodeName")), phase, ready, -since, -restarts, -created,
            pod["metadata"]["name"])


def calculate_diffs(cs: dict, pods: list[dict], current: str, update: str) -> dict:
    """calculateDiffsWithExpectation (feature gates at their defaults: no partition rollback,
    PreparingDelete pods counted when scaling)."""
    spec = cs["spec"]
    strategy = spec.get("updateStrategy") or {}
    replicas = spec.get("replicas", 1)
    partition = max_surge = 0
    try:
        partition = k.partition_replicas(strategy.get("partition"), replicas)
    except (ValueError, TypeError):
        pass  # Kruise logs an illegal partition and carries on with 0
    if strategy.get("maxSurge") is not None and not strategy.get("paused"):
        max_surge = k.scaled(strategy["maxSurge"], replicas, True)
    max_unavailable = k.scaled(strategy.get("maxUnavailable", k.DEFAULT_MAX_UNAVAILABLE), replicas, max_surge == 0)
    scale_max = (spec.get("scaleStrategy") or {}).get("maxUnavailable")
    scale_max_unavailable = 2 ** 31 - 1 if scale_max is None else k.scaled(scale_max, replicas, True)
    min_ready = spec.get("minReadySeconds", 0) or 0

    n = dict(new=0, new_active=0, old=0, old_active=0, new_unavail=0, old_unavail=0, new_del=0, old_del=0,
             new_pre=0, old_pre=0)
    for pod in pods:
        side = "new" if at_revision(pod, update) else "old"
        n[side] += 1
        if lifecycle_state(pod) == k.PREPARING_DELETE:
            n[f"{side}_pre"] += 1
            continue
        n[f"{side}_active"] += 1
        if specified_delete(cs, pod):
            n[f"{side}_del"] += 1
        elif not available(pod, min_ready):
            n[f"{side}_unavail"] += 1
    update_old = max(n["old_active"] - partition, 0)
    update_new = min(n["new_active"] - (replicas - partition), 0)
    total_unavailable = n["new_pre"] + n["old_pre"] + n["new_unavail"] + n["old_unavail"]
    res = dict(scale_up=0, scale_up_old=0, scale_down=0, scale_down_old=0, scale_up_limit=0,
               delete_ready_limit=0, surge=0, surge_old=0, update=0, update_max_unavailable=0)
    if max_surge > 0:
        scale_surge = scale_old_surge = 0
        to_delete = n["new_del"] + n["old_del"]
        if to_delete > 0:
            scale_surge = min(max(total_unavailable + to_delete - max_unavailable, 0), to_delete)
            if scale_surge > n["new_del"]:
                scale_old_surge = scale_surge - n["new_del"]
        update_surge = update_old_surge = 0
        if (update_old > 0 > update_new) or (update_old < 0 < update_new):
            if abs(update_old) <= abs(update_new):
                update_surge = abs(update_old)
                update_old_surge = update_surge if update_old < 0 else 0
            else:
                update_surge = abs(update_new)
                update_old_surge = update_surge if update_new > 0 else 0
        if scale_surge >= update_surge:
            res["surge"] = min(max_surge, scale_surge)
            res["surge_old"] = min(res["surge"], scale_old_surge)
        else:
            res["surge"] = min(max_surge, update_surge)
            res["surge_old"] = min(res["surge"], update_old_surge)
    expected_total = replicas + res["surge"]
    expected_old = partition + res["surge_old"]
    if expected_total - len(pods) > 0:
        res["scale_up"] = expected_total - len(pods)
        res["scale_up_old"] = max(expected_old - n["old"], 0)
        res["scale_up_limit"] = min(res["scale_up"], max(scale_max_unavailable - total_unavailable, 0))
    down = len(pods) - n["old_del"] - n["new_del"] - expected_total
    if down > 0:
        res["scale_down"] = down
        res["scale_down_old"] = max(n["old"] - n["old_del"] - expected_old, 0)
    if n["new_del"] or n["old_del"] or res["scale_down"]:
        res["delete_ready_limit"] = max(max_unavailable + len(pods) - replicas - total_unavailable, 0)
    res["update"] = update_old if abs(update_old) <= abs(update_new) else -update_new
    if res["update"]:
        res["update_max_unavailable"] = max_unavailable + len(pods) - replicas
    return res


def in_place_spec(old: dict | None, new: dict | None) -> dict | None:
    """defaultCalculateInPlaceUpdateSpec: {"images": {container: image}, "old"/"new" metadata}
    when the two revisions' templates differ only in container images and metadata, else None."""
    if old is None or new is None:
        return None
    old_t = ((old.get("data") or {}).get("spec") or {}).get("template") or {}
    new_t = ((new.get("data") or {}).get("spec") or {}).get("template") or {}
    old_spec, new_spec = dict(old_t.get("spec") or {}), dict(new_t.get("spec") or {})
    old_c, new_c = old_spec.pop("containers", None) or [], new_spec.pop("containers", None) or []
    if old_spec != new_spec or len(old_c) != len(new_c):
        return None
    images = {}
    for before, after in zip(old_c, new_c, strict=True):
        if {**before, "image": None} != {**after, "image": None} or "image" not in before or "image" not in after:
            return None
        if before["image"] != after["image"]:
            images[before["name"]] = after["image"]
    return {"revision": new["metadata"]["name"], "images": images,
            "old": old_t.get("metadata") or {}, "new": new_t.get("metadata") or {}}


def containers_updated(pod: dict, state: dict) -> bool:
    """defaultCheckContainersInPlaceUpdateCompleted: each updated container reports a new
    imageID (or already runs the spec's image). A container the kubelet has not created yet
    reports no imageID here, which is "not yet" too."""
    last = dict(state.get("lastContainerStatuses") or {})
    images = {c["name"]: c.get("image", "") for c in pod["spec"].get("containers") or ()}
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        before = last.pop(status.get("name"), None)
        if before is None:
            continue
        if not status.get("imageID") or (before.get("imageID") == status.get("imageID")
                                         and images.get(status["name"]) != status.get("image")):
            return False
    return not last


def inplace_state(pod: dict) -> dict | None:
    raw = (pod["metadata"].get("annotations") or {}).get(k.INPLACE_STATE)
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class CloneSetUpdates:
    """Mixin: needs ``api``, ``store``, ``events``, ``pods_kind`` and ``_pod_write``."""

    # -- lifecycle and readiness writes ------------------------------------------------

    def _set_lifecycle(self, pod: dict, state: str, handler: dict | None = None) -> dict:
        """UpdatePodLifecycle (and ...WithHandler, which also re-adds the hook's labels and finalizers)."""
        if lifecycle_state(pod) == state:
            return pod

        def change(obj):
            meta = obj["metadata"]
            meta.setdefault("labels", {})[k.LIFECYCLE_STATE] = state
            meta.setdefault("annotations", {})[k.LIFECYCLE_TIMESTAMP] = now_iso()
            if handler:
                meta["labels"].update(handler.get("labelsHandler") or {})
                finalizers = meta.setdefault("finalizers", [])
                finalizers.extend(f for f in handler.get("finalizersHandler") or () if f not in finalizers)
        return self._pod_write(pod, change)

    def _set_gate(self, pod: dict, ok: bool, reason: str = "") -> dict:
        """The InPlaceUpdateReady condition; setting it False also drops Ready, as Kruise does."""
        meta = pod["metadata"]
        stored = self.store.get("pods", meta["namespace"], meta["name"])
        if stored is None:
            return pod
        gate = condition(stored.obj, k.INPLACE_READY)
        if gate is not None and gate.get("status") == ("True" if ok else "False") and gate.get("reason", "") == reason:
            return stored.obj
        obj = stored.thaw()
        conditions = obj.setdefault("status", {}).setdefault("conditions", [])
        new = {"type": k.INPLACE_READY, "status": "True" if ok else "False", "lastProbeTime": None,
               "lastTransitionTime": now_iso()}
        if reason:
            new["reason"] = reason
        for i, c in enumerate(conditions):
            if c.get("type") == k.INPLACE_READY:
                conditions[i] = new
                break
        else:
            conditions.append(new)
        if not ok:
            ready = condition(obj, "Ready")
            containers = condition(obj, "ContainersReady")
            if ready is not None and (containers or {}).get("status") == "True" and ready.get("status") != "False":
                ready.update(status="False", reason="ReadinessGatesNotReady", lastTransitionTime=now_iso(),
                             message=f"the status of pod readiness gate \"{k.INPLACE_READY}\" is not \"True\", but False")
        return self.api.update(self.pods_kind, meta["namespace"], meta["name"], obj, subresource="status").obj

    # -- step 1: refresh ------------------------------------------------------------------

    def _refresh(self, cs: dict, pod: dict, update_revision: str) -> tuple[dict, bool]:
        state = inplace_state(pod)
        if state is None or containers_updated(pod, state):
            if any(g.get("conditionType") == k.INPLACE_READY for g in pod["spec"].get("readinessGates") or ()):
                pod = self._set_gate(pod, True)
        hooks = cs["spec"].get("lifecycle") or {}
        hook = hooks.get("inPlaceUpdate")
        current, target = lifecycle_state(pod), ""
        if current == k.PREPARING_NORMAL:
            if not hooks.get("preNormal"):
                target = k.NORMAL if pod["spec"].get("nodeName") else ""
            elif all_hooked(hooks["preNormal"], pod):
                target = k.NORMAL
        elif current == k.PREPARING_UPDATE:
            if at_revision(pod, update_revision):  # rolled back while parked: nothing to update
                target = k.UPDATED if hooks and not all_hooked(hook, pod) else k.NORMAL
        elif current == k.UPDATING:
            if state is None or containers_updated(pod, state):
                target = k.UPDATED if hooks and not all_hooked(hook, pod) else k.NORMAL
        elif current == k.UPDATED:
            if not hook or all_hooked(hook, pod):
                target = k.NORMAL
        if target and target != current:
            return self._set_lifecycle(pod, target), True
        return pod, False

    # -- steps 2 and 3 ----------------------------------------------------------------------

    def _update(self, cs: dict, pods: list[dict], current, update, revisions: list[dict]) -> str | None:
        """Returns an error message for a FailedUpdate condition, or None."""
        strategy = cs["spec"].get("updateStrategy") or {}
        if strategy.get("type") == k.ON_DELETE:
            return None
        modified = False
        for i, pod in enumerate(pods):
            pods[i], changed = self._refresh(cs, pod, update["metadata"]["name"])
            modified = modified or changed
        if modified or strategy.get("paused"):
            return None
        diffs = calculate_diffs(cs, pods, current["metadata"]["name"], update["metadata"]["name"])
        if diffs["update"] == 0:
            return None
        target = update if diffs["update"] > 0 else current
        waiting = []
        for pod in pods:
            stale = not at_revision(pod, update["metadata"]["name"])
            if (stale if diffs["update"] > 0 else not stale) and lifecycle_state(pod) != k.PREPARING_DELETE:
                waiting.append(pod)
        waiting.sort(key=update_order)
        waiting.sort(key=lambda p: lifecycle_state(p) != k.PREPARING_UPDATE)  # stable: PreparingUpdate first
        chosen = self._limit(cs, diffs, waiting, pods, target["metadata"]["name"])
        for pod in chosen:
            error = self._update_pod(cs, target, revisions, pod)
            if error:
                return error
        return None

    @staticmethod
    def _limit(cs: dict, diffs: dict, waiting: list, pods: list, target: str) -> list:
        """limitUpdateIndexes: never more unavailable pods than maxUnavailable allows."""
        waiting = waiting[:abs(diffs["update"])]
        min_ready = cs["spec"].get("minReadySeconds", 0) or 0
        unavailable = target_unavailable = 0
        for pod in pods:
            if not available(pod, min_ready):
                unavailable += 1
                target_unavailable += at_revision(pod, target)
        allowed = 0
        for pod in waiting:
            if target_unavailable + allowed >= diffs["update_max_unavailable"]:
                break
            if available(pod, min_ready):
                if unavailable >= diffs["update_max_unavailable"]:
                    break
                unavailable += 1
            allowed += 1
        return waiting[:allowed]

    def _update_pod(self, cs: dict, target: dict, revisions: list[dict], pod: dict) -> str | None:
        strategy_type = (cs["spec"].get("updateStrategy") or {}).get("type")
        name = pod["metadata"]["name"]
        if strategy_type in (k.IN_PLACE_IF_POSSIBLE, k.IN_PLACE_ONLY):
            old = next((r for r in revisions if at_revision(pod, r["metadata"]["name"])), None)
            spec = in_place_spec(old, target)
            if spec is not None:
                hook = (cs["spec"].get("lifecycle") or {}).get("inPlaceUpdate")
                state = lifecycle_state(pod)
                if state in ("", k.PREPARING_NORMAL, k.NORMAL):
                    if is_hooked(hook, pod):
                        self._set_lifecycle(pod, k.PREPARING_UPDATE)
                        return None
                elif state == k.UPDATED:
                    if hook:
                        self._set_lifecycle(pod, k.PREPARING_UPDATE, hook)
                    return None
                elif state == k.PREPARING_UPDATE:
                    if is_hooked(hook, pod):
                        return None  # the hook's owner has not released the pod yet
                elif state != k.UPDATING:
                    return f"not allowed to in-place update pod {name} in state {state}"
                self._in_place(cs, pod, spec)
                return None
            if strategy_type == k.IN_PLACE_ONLY:
                return f"find Pod {name} update strategy is InPlaceOnly but can not update in-place"
        if not labels_of(pod).get(k.SPECIFIED_DELETE):
            self._pod_write(pod, lambda obj: obj["metadata"].setdefault("labels", {}).update({k.SPECIFIED_DELETE: "true"}))
        self.events.record(cs, "Normal", "SuccessfulUpdatePodReCreate",
                           f"successfully patch pod {name} specified-delete for update(revision "
                           f"{target['metadata']['name']})", COMPONENT)
        return None

    def _in_place(self, cs: dict, pod: dict, spec: dict) -> None:
        if any(g.get("conditionType") == k.INPLACE_READY for g in pod["spec"].get("readinessGates") or ()):
            pod = self._set_gate(pod, False, "StartInPlaceUpdate")
        revision = spec["revision"]

        def change(obj):
            meta = obj["metadata"]
            labels, annotations = meta.setdefault("labels", {}), meta.setdefault("annotations", {})
            for field, values in (("labels", labels), ("annotations", annotations)):
                # Only what changed between the two templates (a two-way merge patch), so a
                # label someone else set on the pod (a released hook) stays as it is.
                before, after = spec["old"].get(field) or {}, spec["new"].get(field) or {}
                for key in before:
                    if key not in after:
                        values.pop(key, None)
                values.update({key: value for key, value in after.items() if before.get(key) != value})
            labels[k.REVISION_LABEL] = revision
            labels[k.TEMPLATE_HASH_LABEL] = short_hash(revision)
            labels[k.LIFECYCLE_STATE] = k.UPDATING
            annotations[k.LIFECYCLE_TIMESTAMP] = now_iso()
            changed = [c["name"] for c in obj["spec"]["containers"] if c["name"] in spec["images"]]
            last = {s["name"]: {"imageID": s.get("imageID", "")}
                    for s in (obj.get("status") or {}).get("containerStatuses") or () if s["name"] in changed}
            stamp = now_iso()
            annotations[k.INPLACE_STATE] = json.dumps({
                "revision": revision, "updateTimestamp": stamp, "lastContainerStatuses": last,
                "updateImages": bool(spec["images"]),
                "containerBatchesRecord": [{"timestamp": stamp, "containers": sorted(changed)}]},
                separators=(",", ":"))
            for container in obj["spec"]["containers"]:
                if container["name"] in spec["images"]:
                    container["image"] = spec["images"][container["name"]]
        self._pod_write(pod, change)
        self.events.record(cs, "Normal", "SuccessfulUpdatePodInPlace",
                           f"successfully update pod {pod['metadata']['name']} in-place(revision {revision})",
                           COMPONENT)
