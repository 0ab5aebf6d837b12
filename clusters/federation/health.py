"""Health of federated objects, as Argo CD means it: healthy | progressing | degraded |
failed | unknown, with the reason in words.

- failed: will not get better by waiting (pods refused by the namespace quota, image
  pull errors, CrashLoopBackOff, unschedulable pods, a sync error) and nothing is served;
- degraded: some replicas fail or are unavailable beyond what a rollout explains, or the
  rollout is stuck;
- progressing: a rollout or a sync is under way;
- healthy: every desired replica is ready and available at the observed generation;
- unknown: never collected, or the cluster cannot be reached.

Pure functions over plain dicts: summarize_pods() condenses one workload's pods (as the
collector lists them) into a bounded summary stored with the member's status;
member_health() judges one member object from its aggregated status entry and that
summary; rollup() judges the federated resource from its members.

A reason is kept twice: "reason" (words, rendered when computed) and "why" (message code
and parameters), so pages and the API can say it again in the reader's language
(words()). Message texts are gettext_lazy/ngettext_lazy so makemessages finds them.
"""
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

HEALTHY, PROGRESSING, DEGRADED, FAILED, UNKNOWN = "healthy", "progressing", "degraded", "failed", "unknown"
STATES = (HEALTHY, PROGRESSING, DEGRADED, FAILED, UNKNOWN)
# Worst first: the roll-up takes the first state any member is in.
SEVERITY = (FAILED, DEGRADED, UNKNOWN, PROGRESSING, HEALTHY)

# Kinds whose pods are owned by them (directly, or through ReplicaSets for Deployments).
POD_OWNERS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
# Container waiting reasons that waiting does not cure, most telling first.
IMAGE_ERRORS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
CONFIG_ERRORS = ("CreateContainerConfigError", "CreateContainerError", "RunContainerError")
CRASH = "CrashLoopBackOff"
STARTING = ("ContainerCreating", "PodInitializing")

MAX_REASONS = 5      # waiting reasons kept per workload
MAX_CONTAINERS = 3   # container names kept per reason
MAX_MESSAGE = 200

MESSAGES = {
    "sync_error": _("sync error: %(error)s"),
    "pending": _("waiting to be applied"),
    "removing": _("being removed from the cluster"),
    "deleting": _("being deleted"),
    "unreachable": _("the cluster cannot be reached; last known status is not current"),
    "not_collected": _("status not collected from the cluster yet"),
    "applied": _("Applied"),
    "not_placed": _("not placed in any cluster"),
    "unplaced": ngettext_lazy("%(n)d replica fits no schedulable cluster",
                              "%(n)d replicas fit no schedulable cluster", "n"),
    "quota": ngettext_lazy("%(refused)d of %(n)d pod refused by the namespace quota: %(detail)s",
                           "%(refused)d of %(n)d pods refused by the namespace quota: %(detail)s", "n"),
    "quota_rollout": _("new pods refused by the namespace quota: %(detail)s"),
    "create_failed": _("pods cannot be created: %(detail)s"),
    "waiting": ngettext_lazy("%(reason)s in %(n)d pod (container %(containers)s)",
                             "%(reason)s in %(n)d pods (container %(containers)s)", "n"),
    "unschedulable": ngettext_lazy("%(n)d pod cannot be scheduled: %(detail)s",
                                   "%(n)d pods cannot be scheduled: %(detail)s", "n"),
    "generation": _("the cluster has not observed generation %(generation)s yet"),
    "deadline": _("rollout stuck: progress deadline exceeded"),
    "rolling": _("rolling out: %(updated)d of %(n)d replicas updated"),
    "old_replicas": ngettext_lazy("rolling out: %(n)d old replica still running",
                                  "rolling out: %(n)d old replicas still running", "n"),
    "starting": ngettext_lazy("%(ready)d of %(n)d replica ready, pods starting",
                              "%(ready)d of %(n)d replicas ready, pods starting", "n"),
    "not_ready": ngettext_lazy("%(ready)d of %(n)d replica ready",
                               "%(ready)d of %(n)d replicas ready", "n"),
    "unavailable": _("%(ready)d of %(n)d replicas ready but only %(available)d available"),
    "condition": _("%(type)s is False: %(detail)s"),
    "ready": ngettext_lazy("%(ready)d of %(n)d replica ready", "%(ready)d of %(n)d replicas ready", "n"),
    "scaled_to_zero": _("scaled to zero"),
    # Roll-up: the clusters in the worst state, and why.
    "in_clusters": _("%(state)s in %(clusters)s: %(reason)s"),
    "all_clusters": ngettext_lazy("%(reason)s in %(n)d cluster", "%(reason)s in %(n)d clusters", "n"),
}
STATE_WORDS = {HEALTHY: _("healthy"), PROGRESSING: _("progressing"), DEGRADED: _("degraded"),
               FAILED: _("failed"), UNKNOWN: _("unknown")}


def why(code: str, **params) -> dict:
    return {"code": code, "params": params} if params else {"code": code}


def words(reason) -> str:
    """Render a "why" (or a list of them, joined by "; ") in the active language."""
    if isinstance(reason, list):
        return "; ".join(words(r) for r in reason)
    if not isinstance(reason, dict) or reason.get("code") not in MESSAGES:
        return ""
    params = dict(reason.get("params") or {})
    if "inner" in reason:
        params["reason"] = words(reason["inner"])
    if "state" in params:
        params["state"] = str(STATE_WORDS.get(params["state"], params["state"]))
    try:
        return str(MESSAGES[reason["code"]] % params)
    except (KeyError, TypeError, ValueError):  # a stored reason from an older message set
        return str(reason["code"])


def verdict(state: str, reason) -> dict:
    return {"state": state, "reason": words(reason), "why": reason}


def reason_text(health) -> str:
    """The reason of a health dict in the active language (falls back to the stored words)."""
    if not isinstance(health, dict):
        return ""
    return words(health.get("why")) or str(health.get("reason") or "")


# -- pods -------------------------------------------------------------------------------

def _short(text, limit: int = MAX_MESSAGE) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _is_active(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _condition(obj: dict, type_: str) -> dict | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or ()
                 if isinstance(c, dict) and c.get("type") == type_), None)


def summarize_pods(pods: list[dict], refusal: str = "") -> dict:
    """A bounded summary of one workload's pods: counts by phase, ready, restarts, waiting
    reasons with counts and containers, unschedulable pods, the last termination, and the
    message of a pod-creation refusal (the workload's ReplicaFailure condition)."""
    summary = {"total": 0, "ready": 0, "restarts": 0, "phases": {}, "waiting": {}, "starting": 0,
               "running_not_ready": 0, "terminating": 0}
    last_finished = ""
    for pod in pods:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            summary["terminating"] += 1
            continue
        status = pod.get("status") or {}
        phase = status.get("phase") or "Pending"
        summary["phases"][phase] = summary["phases"].get(phase, 0) + 1
        if not _is_active(pod):
            continue
        summary["total"] += 1
        ready = (_condition(pod, "Ready") or {}).get("status") == "True"
        summary["ready"] += ready
        scheduled = _condition(pod, "PodScheduled") or {}
        if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
            entry = summary.setdefault("unschedulable", {"pods": 0, "message": _short(scheduled.get("message"))})
            entry["pods"] += 1
            continue
        reasons_here, starting = set(), False
        for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            summary["restarts"] += container.get("restartCount") or 0
            waiting = (container.get("state") or {}).get("waiting")
            if waiting:
                reason = waiting.get("reason") or "Waiting"
                if reason in STARTING:
                    starting = True
                else:
                    _note_waiting(summary["waiting"], reason, container.get("name", ""), waiting.get("message"),
                                  count_pod=reason not in reasons_here)
                    reasons_here.add(reason)
            for state in ((container.get("lastState") or {}).get("terminated"),
                          (container.get("state") or {}).get("terminated")):
                if state and (state.get("finishedAt") or "") >= last_finished:
                    last_finished = state.get("finishedAt") or ""
                    summary["last_termination"] = {"reason": state.get("reason") or "", "exit_code":
                                                   state.get("exitCode"), "container": container.get("name", "")}
        if not ready and not reasons_here:
            if starting or phase == "Pending" or not status.get("containerStatuses"):
                summary["starting"] += 1
            else:
                summary["running_not_ready"] += 1
    if refusal:
        summary["refused"] = _short(refusal, 400)
    return summary


def _note_waiting(found: dict, reason: str, container: str, message, *, count_pod: bool) -> None:
    entry = found.get(reason)
    if entry is None:
        if len(found) >= MAX_REASONS:
            return
        entry = found[reason] = {"pods": 0, "containers": [], "message": _short(message)}
    entry["pods"] += count_pod
    if container and container not in entry["containers"] and len(entry["containers"]) < MAX_CONTAINERS:
        entry["containers"].append(container)


def refusal_of(*objects: dict) -> str:
    """The message of the first ReplicaFailure=True condition among these objects."""
    for obj in objects:
        condition = _condition(obj or {}, "ReplicaFailure")
        if condition and condition.get("status") == "True":
            return condition.get("message") or condition.get("reason") or "FailedCreate"
    return ""


def quota_detail(message: str) -> str | None:
    """ "…forbidden: exceeded quota: paas-quota, requested: pods=1, used: pods=2, limited: pods=2"
    -> "exceeded quota pods=2"; None when the refusal is not the quota's."""
    if "exceeded quota" in message:
        limited = message.rsplit("limited:", 1)[1].strip() if "limited:" in message else ""
        return _short(f"exceeded quota {limited}" if limited else message.split("forbidden:", 1)[-1].strip())
    if "failed quota" in message or "must specify" in message:
        return _short(message.split("forbidden:", 1)[-1].strip())
    return None


# -- one member object ------------------------------------------------------------------

_COUNTS = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "observedGeneration", "conditions")


def member_health(status_entry: dict, pods_summary: dict | None, kind: str, *, has_replicas: bool | None = None,
                  reachable: bool = True) -> dict:
    """Health of one member object from its aggregated status entry (state, planned, error,
    replica counts, conditions, generation) and its pod summary (or None)."""
    entry = status_entry or {}
    has_replicas = kind in POD_OWNERS if has_replicas is None else has_replicas
    state = entry.get("state")
    if state == "error":
        error = _short((entry.get("error") or "").splitlines()[0] if entry.get("error") else "")
        return verdict(FAILED, why("sync_error", error=error or "?"))
    if state == "removing":
        return verdict(PROGRESSING, why("removing"))
    if not reachable:
        return verdict(UNKNOWN, why("unreachable"))
    if state == "pending":
        return verdict(PROGRESSING, why("pending"))
    if not has_replicas:
        return verdict(HEALTHY, why("applied"))
    if pods_summary is None and not any(k in entry for k in _COUNTS):
        return verdict(UNKNOWN, why("not_collected"))
    return _workload_health(entry, pods_summary)


def _workload_health(entry: dict, pods: dict | None) -> dict:
    desired = entry.get("planned")
    if desired is None:
        desired = entry.get("replicas", 0) or 0
    ready = entry.get("readyReplicas", 0) or 0
    available = entry.get("availableReplicas", 0) or 0
    updated = entry.get("updatedReplicas", 0) or 0
    replicas = entry.get("replicas", 0) or 0
    conditions = {c.get("type"): c for c in entry.get("conditions") or () if isinstance(c, dict)}
    failures = _failures(entry, pods, desired, updated, conditions)
    if failures:
        return verdict(FAILED if desired and ready == 0 else DEGRADED, failures)
    generation, observed = entry.get("generation"), entry.get("observedGeneration")
    if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
        return verdict(PROGRESSING, why("generation", generation=generation))
    progressing = conditions.get("Progressing") or {}
    if progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        return verdict(DEGRADED, why("deadline"))
    if updated < desired:
        return verdict(PROGRESSING, why("rolling", updated=updated, n=desired))
    if replicas > desired:
        return verdict(PROGRESSING, why("old_replicas", n=replicas - desired))
    if ready < desired:
        rollout_done = progressing.get("reason") == "NewReplicaSetAvailable"
        starting = pods.get("starting", 0) if pods else 0
        if starting or (pods and pods.get("running_not_ready") and not rollout_done) or (pods is None and not rollout_done):
            return verdict(PROGRESSING, why("starting", ready=ready, n=desired))
        available_condition = conditions.get("Available") or {}
        if available_condition.get("status") == "False":
            detail = _short(available_condition.get("message") or available_condition.get("reason"))
            return verdict(DEGRADED, [why("not_ready", ready=ready, n=desired),
                                      why("condition", type="Available", detail=detail)])
        return verdict(DEGRADED, why("not_ready", ready=ready, n=desired))
    if available < desired:
        return verdict(PROGRESSING, why("unavailable", ready=ready, n=desired, available=available))
    if desired == 0:
        return verdict(HEALTHY, why("scaled_to_zero"))
    return verdict(HEALTHY, why("ready", ready=ready, n=desired))


def _failures(entry: dict, pods: dict | None, desired: int, updated: int, conditions: dict) -> list[dict]:
    """What keeps replicas from running that waiting will not fix, most telling first."""
    found = []
    failure = conditions.get("ReplicaFailure") or {}
    refusal = (pods or {}).get("refused") or (failure.get("message") if failure.get("status") == "True" else "")
    if refusal:
        existing = pods["total"] if pods is not None else entry.get("replicas", 0) or 0
        detail = quota_detail(refusal)
        if existing < desired:
            found.append(why("quota", refused=desired - existing, n=desired, detail=detail) if detail
                         else why("create_failed", detail=_short(refusal)))
        elif updated < desired:  # a rollout's surge pods are refused: it cannot finish
            found.append(why("quota_rollout", detail=detail) if detail else why("create_failed", detail=_short(refusal)))
    waiting = (pods or {}).get("waiting") or {}
    for group in (IMAGE_ERRORS, (CRASH,), CONFIG_ERRORS):
        for reason in group:
            if reason in waiting:
                item = waiting[reason]
                found.append(why("waiting", reason=reason, n=item["pods"],
                                 containers=", ".join(item["containers"]) or "?"))
    unschedulable = (pods or {}).get("unschedulable")
    if unschedulable:
        found.append(why("unschedulable", n=unschedulable["pods"], detail=unschedulable.get("message") or ""))
    return found[:3]


# -- the federated resource -------------------------------------------------------------

def rollup(member: dict[str, dict], *, deleting: bool = False, unplaced: int = 0, has_replicas: bool = False,
           totals: dict | None = None) -> dict:
    """Worst state over the clusters; the reason names the clusters in that state."""
    if deleting:
        return verdict(PROGRESSING, why("deleting"))
    if not member:
        return verdict(DEGRADED if unplaced else UNKNOWN, why("unplaced", n=unplaced) if unplaced else why("not_placed"))
    present = {h.get("state") if h.get("state") in STATES else UNKNOWN for h in member.values()}
    worst = next(s for s in SEVERITY if s in present)
    lead = [why("unplaced", n=unplaced)] if unplaced else []
    if worst == HEALTHY:
        if unplaced:
            return verdict(DEGRADED, lead)
        totals = totals or {}
        inner = (why("ready", ready=totals.get("readyReplicas", 0), n=totals.get("desired", 0)) if has_replicas
                 else why("applied"))
        return verdict(HEALTHY, {"code": "all_clusters", "params": {"n": len(member)}, "inner": inner})
    groups: dict[str, list[str]] = {}
    reasons: dict[str, object] = {}
    for slug in sorted(member):
        health = member[slug]
        if (health.get("state") if health.get("state") in STATES else UNKNOWN) != worst:
            continue
        key = health.get("reason") or ""
        groups.setdefault(key, []).append(slug)
        reasons.setdefault(key, health.get("why"))
    parts = [{"code": "in_clusters", "params": {"state": worst, "clusters": ", ".join(slugs)}, "inner": reasons[key]}
             for key, slugs in list(groups.items())[:3]]
    if unplaced and SEVERITY.index(worst) > SEVERITY.index(DEGRADED):  # replicas with nowhere to run
        return verdict(DEGRADED, lead + parts)
    return verdict(worst, parts)
