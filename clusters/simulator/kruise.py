"""OpenKruise's vocabulary and its CloneSet admission webhooks, as the simulator's API server
applies them to ``apps.kruise.io`` CloneSets (a real cluster runs kruise-manager's mutating
and validating webhooks on every create and update).

Names and rules follow openkruise/kruise v1.9.0: ``apis/apps/pub`` (lifecycle and in-place
keys), ``apis/apps/defaults`` (``SetDefaultsCloneSet``) and
``pkg/webhook/cloneset/validating`` (update strategy checks).
"""
from __future__ import annotations

import math

from .errors import invalid

GROUP = "apps.kruise.io"
CLONESET_BUCKET = "clonesets.apps.kruise.io"

INSTANCE_ID = "apps.kruise.io/cloneset-instance-id"
REVISION_LABEL = "controller-revision-hash"
TEMPLATE_HASH_LABEL = "pod-template-hash"
SPECIFIED_DELETE = "apps.kruise.io/specified-delete"
LIFECYCLE_STATE = "lifecycle.apps.kruise.io/state"
LIFECYCLE_TIMESTAMP = "lifecycle.apps.kruise.io/timestamp"
INPLACE_STATE = "apps.kruise.io/inplace-update-state"
INPLACE_READY = "InPlaceUpdateReady"

PREPARING_NORMAL = "PreparingNormal"
NORMAL = "Normal"
PREPARING_UPDATE = "PreparingUpdate"
UPDATING = "Updating"
UPDATED = "Updated"
PREPARING_DELETE = "PreparingDelete"

RECREATE = "ReCreate"
IN_PLACE_IF_POSSIBLE = "InPlaceIfPossible"
IN_PLACE_ONLY = "InPlaceOnly"
ON_DELETE = "OnDelete"  # accepted by the controller (it then never updates), refused by the webhook
DEFAULT_MAX_UNAVAILABLE = "20%"


def scaled(value, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int, or "N%" of ``total``; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"invalid type: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%"):
        number = int(value[:-1])  # ValueError for "x%"
        exact = number * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}")


def partition_replicas(partition, replicas: int) -> int:
    """util.CalculatePartitionReplicas: percentages round up (at least one old pod kept), but a
    partition below "100%" of more than one replica still updates at least one pod."""
    if partition is None:
        return 0
    value = scaled(partition, replicas, True)
    if replicas > 1 and value == replicas and isinstance(partition, str) and partition != "100%":
        value = replicas - 1
    return max(min(value, replicas), 0)


def default_cloneset(obj: dict) -> None:
    """The mutating webhook (SetDefaultsCloneSet, template defaults left to the pods)."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {})
    if not strategy.get("type"):
        strategy["type"] = RECREATE
    elif strategy["type"] in (IN_PLACE_IF_POSSIBLE, IN_PLACE_ONLY):
        strategy.setdefault("inPlaceUpdateStrategy", {})
    strategy.setdefault("partition", 0)
    strategy.setdefault("maxUnavailable", DEFAULT_MAX_UNAVAILABLE)
    strategy.setdefault("maxSurge", 0)
    spec.setdefault("scaleStrategy", {})
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    template.setdefault("spec", {})


def validate_cloneset(obj: dict, validate_selector, validate_pod_spec, kind) -> None:
    """The validating webhook's checks that catch real mistakes."""
    name = obj["metadata"]["name"]
    spec = obj["spec"]
    causes = []
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        causes.append(("spec.replicas", "Invalid value: must be greater than or equal to 0"))
        replicas = 0
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") not in (RECREATE, IN_PLACE_IF_POSSIBLE, IN_PLACE_ONLY):
        causes.append(("spec.updateStrategy.type",
                       f"Invalid value: \"{strategy.get('type')}\": must be 'ReCreate', InPlaceIfPossible or 'InPlaceOnly'"))
    values = {}
    for field in ("partition", "maxUnavailable", "maxSurge"):
        try:
            values[field] = scaled(strategy.get(field), replicas, True)
        except (ValueError, TypeError) as exc:
            causes.append((f"spec.updateStrategy.{field}", f"Invalid value: {strategy.get(field)!r}: {exc}"))
            continue
        if values[field] < 0:
            causes.append((f"spec.updateStrategy.{field}", "Invalid value: must be greater than or equal to 0"))
    if strategy.get("type") == IN_PLACE_ONLY and values.get("maxSurge", 0) > 0:
        causes.append(("spec.updateStrategy.maxSurge", "Invalid value: can not use maxSurge with strategy type InPlaceOnly"))
    if replicas > 0 and values.get("maxUnavailable", 1) < 1 and values.get("maxSurge", 1) < 1:
        causes.append(("spec.updateStrategy.maxUnavailable",
                       "Invalid value: maxUnavailable and maxSurge should not both be less than 1"))
    if causes:
        raise invalid("CloneSet", GROUP, name, causes)
    validate_selector(kind, name, spec)
    validate_pod_spec(kind, name, (spec.get("template") or {}).get("spec"), "spec.template.spec")
