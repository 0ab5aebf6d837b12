"""The words the kubelet and the scheduler use in their Events, as in Kubernetes 1.32.

Kept apart from the kubelet's state machine so its lifecycle stays readable; every
function returns (type, reason, message) for ``Kubelet._note``.
"""
from __future__ import annotations

import hashlib

NORMAL, WARNING = "Normal", "Warning"


def field_path(container: str) -> str:
    return f"spec.containers{{{container}}}"


def pod_text(pod: dict) -> str:
    """``format.Pod``: name_namespace(uid)."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def image_size(image: str) -> int:
    """A plausible, stable compressed image size (5 to 250 MB)."""
    digest = hashlib.sha256(image.encode()).digest()
    return 5_000_000 + int.from_bytes(digest[:4], "big") % 245_000_000


def full_reference(image: str) -> str:
    """What containerd resolves: docker.io/library/nginx:latest for "nginx"."""
    first, _, rest = image.partition("/")
    if not rest:
        image = f"docker.io/library/{image}"
    elif "." not in first and ":" not in first and first != "localhost":
        image = f"docker.io/{image}"
    last = image.rsplit("/", 1)[-1]
    return image if (":" in last or "@" in last) else image + ":latest"


def needs_pull(container: dict, present: set) -> bool:
    return container.get("imagePullPolicy") == "Always" or container.get("image") not in present


def pulling(image: str):
    return NORMAL, "Pulling", f'Pulling image "{image}"'


def pulled(image: str, seconds: float | None):
    if seconds is None:
        return NORMAL, "Pulled", f'Container image "{image}" already present on machine'
    took = f"{seconds:.3f}s"
    return NORMAL, "Pulled", (f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
                              f"Image size: {image_size(image)} bytes.")


def pull_error_message(image: str, detail: str = "", code: str = "NotFound") -> str:
    """containerd's error for a failed pull; ``detail`` is what its resolver said (default: not found)."""
    ref = full_reference(image)
    detail = detail or f"{ref}: not found"
    return (f'rpc error: code = {code} desc = failed to pull and unpack image "{ref}": '
            f'failed to resolve reference "{ref}": {detail}')


def pull_failed(image: str, message: str = "") -> list[tuple]:
    return [(WARNING, "Failed", f'Failed to pull image "{image}": {message or pull_error_message(image)}'),
            (WARNING, "Failed", "Error: ErrImagePull")]


def pull_backoff(image: str) -> list[tuple]:
    return [(NORMAL, "BackOff", f'Back-off pulling image "{image}"'),
            (WARNING, "Failed", "Error: ImagePullBackOff")]


def pull_backoff_message(image: str, error: str) -> str:
    """The waiting message during the back-off: since Kubernetes 1.32 it repeats the last pull error."""
    return f'Back-off pulling image "{image}"' + (f": ErrImagePull: {error}" if error else "")


def created(name: str):
    return NORMAL, "Created", f"Created container: {name}"


def started(name: str):
    return NORMAL, "Started", f"Started container {name}"


def stopping(name: str):
    return NORMAL, "Killing", f"Stopping container {name}"


def definition_changed(name: str):
    return NORMAL, "Killing", f"Container {name} definition changed, will be restarted"


def crash_backoff(name: str, pod: dict):
    return WARNING, "BackOff", f"Back-off restarting failed container {name} in pod {pod_text(pod)}"


def _probe_target(container: dict, probe: dict, pod_ip: str) -> str:
    http = probe.get("httpGet") or {}
    port = http.get("port") or next((p.get("containerPort") for p in container.get("ports") or ()), 8080)
    return f"http://{pod_ip}:{port}{http.get('path', '/')}"


def liveness_failed(container: dict, pod: dict) -> list[tuple]:
    probe = container.get("livenessProbe") or {}
    pod_ip = (pod.get("status") or {}).get("podIP", "")
    target = _probe_target(container, probe, pod_ip)
    address = target.split("/")[2]
    return [(WARNING, "Unhealthy",
             f'Liveness probe failed: Get "{target}": dial tcp {address}: connect: connection refused'),
            (NORMAL, "Killing", f"Container {container['name']} failed liveness probe, will be restarted")]


def readiness_failed():
    return WARNING, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"


def scheduled(pod: dict, node: str):
    meta = pod["metadata"]
    return NORMAL, "Scheduled", f"Successfully assigned {meta.get('namespace', '')}/{meta['name']} to {node}"
