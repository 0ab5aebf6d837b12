"""Small pod facts several controllers need (readiness, activity, resource requests)."""
from __future__ import annotations

from .. import quantity


def is_ready(pod: dict) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def is_active(pod: dict) -> bool:
    """Counts toward replicas: not finished and not being deleted."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def pod_phase(statuses) -> str:
    """Pending while a container has never been created (the kubelet's getPhase), else Running."""
    for status in statuses:
        if "waiting" in (status.get("state") or {}) and not (status.get("lastState") or {}).get("terminated"):
            return "Pending"
    return "Running"


# Words in an image's tag that make the simulated kubelet misbehave the way real images do.
IMAGE_BEHAVIOURS = (
    "crashloop",  # starts and exits with an error, forever (CrashLoopBackOff)
    "unpullable",  # the registry does not have it (ErrImagePull, ImagePullBackOff)
    "notfound",  # the same as unpullable
    "unready",  # runs but its readiness probe keeps failing (Running, never Ready)
)


def image_behaviour(image: str) -> str:
    """"crashloop", "unpullable", "unready" or "" for an image that just works."""
    last = (image or "").rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    for word in IMAGE_BEHAVIOURS:
        if word in tag:
            return "unpullable" if word == "notfound" else word
    return ""


def is_crashloop_image(image: str) -> bool:
    return image_behaviour(image) == "crashloop"


def container_resources(spec: dict) -> dict[str, int]:
    """Summed requests/limits as quota names them (requests.cpu, limits.memory...), in
    thousandths (see ``quantity.milli``).

    A container that sets only a limit requests that amount, as the API server defaults it.
    """
    totals: dict[str, int] = {}
    for container in spec.get("containers") or ():
        resources = container.get("resources") or {}
        limits = resources.get("limits") or {}
        requests = dict(limits)
        requests.update(resources.get("requests") or {})
        for section, values in (("requests", requests), ("limits", limits)):
            for name, value in values.items():
                try:
                    amount = quantity.milli(value)
                except ValueError:
                    continue
                key = f"{section}.{name}"
                totals[key] = totals.get(key, 0) + amount
    return totals


def requests_of(spec: dict) -> tuple[int, int]:
    """(cpu, memory) requests in thousandths."""
    totals = container_resources(spec)
    return totals.get("requests.cpu", 0), totals.get("requests.memory", 0)
