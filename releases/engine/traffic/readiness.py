"""The built-in provider: the pod's readiness gate. Setting its InPlaceUpdateReady condition to
False makes the pod not Ready, so Kubernetes takes it out of the Service's endpoints (and whatever
follows endpoints: kube-proxy, cloud load balancers). OpenKruise's controller sets the condition
back to True when the in-place update is done; put_back only restores a condition this provider
turned off on a pod that was not updated after all (a paused or aborted release)."""
from django.utils import timezone

from .. import workload

CONDITION = "InPlaceUpdateReady"
REASON = "PaasTrafficOff"


def _patch(cluster, namespace: str, pod: str, status: str, reason: str) -> None:
    workload.patch_pod_condition(cluster, namespace, pod, {
        "type": CONDITION, "status": status, "reason": reason,
        "lastTransitionTime": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")})


def condition(pod) -> tuple[str, str]:
    """(status, reason) of the pod's InPlaceUpdateReady condition ("", "" when it has none)."""
    for item in (pod.status.conditions or []) if pod.status else []:
        if item.type == CONDITION:
            return item.status or "", item.reason or ""
    return "", ""


def has_gate(pod) -> bool:
    return any(g.condition_type == CONDITION for g in (pod.spec.readiness_gates or []))


def take_out(cluster, pod) -> None:
    if has_gate(pod) and condition(pod) != ("False", REASON):
        _patch(cluster, pod.metadata.namespace, pod.metadata.name, "False", REASON)


def put_back(cluster, pod) -> None:
    if condition(pod) == ("False", REASON):
        _patch(cluster, pod.metadata.namespace, pod.metadata.name, "True", "PaasTrafficOn")


def restore(cluster, pod) -> None:
    """Back on for a pod this provider turned off (seen before the change: no condition check)."""
    if has_gate(pod):
        _patch(cluster, pod.metadata.namespace, pod.metadata.name, "True", "PaasTrafficOn")
