"""Pod conditions as the kubelet writes them, including readiness gates.

A pod that lists ``spec.readinessGates`` is Ready only when its containers are ready *and*
every gate's condition (set by some controller, e.g. OpenKruise's ``InPlaceUpdateReady``)
is "True" — the kubelet's ``GeneratePodReadyCondition``. Conditions the kubelet does not
own are kept untouched when it rewrites its own, and a condition keeps its
lastTransitionTime while its status does not change (minReadySeconds counts from it).
"""
from __future__ import annotations

KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def gates_state(pod: dict) -> tuple[bool, str]:
    """(all readiness gates pass, the kubelet's message when one does not)."""
    conditions = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or ()}
    missing, false = [], []
    for gate in (pod.get("spec") or {}).get("readinessGates") or ():
        kind = gate.get("conditionType")
        cond = conditions.get(kind)
        if cond is None:
            missing.append(kind)
        elif cond.get("status") != "True":
            false.append(kind)
    if missing:
        return False, f"corresponding condition of pod readiness gate \"{missing[0]}\" does not exist."
    if false:
        return False, f"the status of pod readiness gate \"{false[0]}\" is not \"True\", but False"
    return True, ""


def kubelet_conditions(pod: dict, now: str, scheduled: bool, containers_ready: bool, message: str = "") -> list[dict]:
    """The pod's conditions after the kubelet's update: its own five (or PodScheduled=False
    when unschedulable) followed by every condition another component owns."""
    old = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or ()}

    def cond(type_, ok, reason=None, msg=None):
        value = "True" if ok else "False"
        previous = old.get(type_)
        since = previous.get("lastTransitionTime") if previous and previous.get("status") == value else None
        c = {"type": type_, "status": value, "lastProbeTime": None, "lastTransitionTime": since or now}
        if reason:
            c["reason"] = reason
        if msg:
            c["message"] = msg
        return c

    if not scheduled:
        own = [cond("PodScheduled", False, "Unschedulable", message)]
    else:
        gates_ok, gate_message = gates_state(pod)
        if not containers_ready:
            ready = cond("Ready", False, "ContainersNotReady")
        elif not gates_ok:
            ready = cond("Ready", False, "ReadinessGatesNotReady", gate_message)
        else:
            ready = cond("Ready", True)
        own = [cond("PodReadyToStartContainers", True), cond("Initialized", True), ready,
               cond("ContainersReady", containers_ready, None if containers_ready else "ContainersNotReady"),
               cond("PodScheduled", True)]
    foreign = [c for c in (pod.get("status") or {}).get("conditions") or () if c.get("type") not in KUBELET_CONDITIONS]
    return own + foreign


def ready_out_of_date(pod: dict) -> bool:
    """Whether Ready no longer matches containers and gates (a gate condition changed)."""
    if not (pod.get("spec") or {}).get("readinessGates"):
        return False
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses")
    if not statuses:
        return False
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or ()}
    if "Ready" not in conditions:
        return False
    wanted = all(s.get("ready") for s in statuses) and gates_state(pod)[0]
    return (conditions["Ready"] == "True") != wanted
