"""The simulated Prometheus: per-pod series generated from what the watch knows about
each pod, answered through the Prometheus HTTP API's instant query
(``/api/v1/query``, same JSON, same ``bad_data`` errors).

Series, one per container of every pod with an IP, labelled cluster, namespace, pod,
image, container:
- ``sim_http_requests_per_second``: 5..50, fixed per pod (from its UID), 0 when not serving;
- ``sim_http_error_ratio``: 0.1 %..1 %, wobbling a little with time;
- ``sim_http_latency_seconds`` (p99): 20..80 ms, wobbling a little;
- ``up``: 1 while the pod serves, else 0.
A metric fault (``faults.py``) matching the container's image replaces the error ratio
and/or latency. There is no history: a query ``time`` only sets the answer's timestamp
and the wobble.
"""
from __future__ import annotations

import hashlib
import math
import time
from datetime import datetime

from .faults import MetricFaults
from .promql import PromQLError, evaluate, format_value, parse
from .state import PodView, World

METRICS = ("sim_http_requests_per_second", "sim_http_error_ratio", "sim_http_latency_seconds", "up")


def _unit(text: str) -> float:
    """A stable number in [0, 1) from text (the same pod always gets the same figures)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def pod_figures(pod: PodView, container: str, image: str, faults: MetricFaults, at: float) -> dict[str, float]:
    seed = f"{pod.uid or pod.id}/{container}"
    phase = _unit(seed + "/phase") * 2 * math.pi
    wobble = 1 + 0.1 * math.sin(at / 30 + phase)
    serving = pod.serving
    figures = {
        "sim_http_requests_per_second": round((5 + 45 * _unit(seed + "/rate")) * wobble, 3) if serving else 0.0,
        "sim_http_error_ratio": round((0.001 + 0.009 * _unit(seed + "/errors")) * wobble, 6),
        "sim_http_latency_seconds": round((0.02 + 0.06 * _unit(seed + "/latency")) * wobble, 6),
        "up": 1.0 if serving else 0.0,
    }
    fault = faults.for_image(image)
    if fault is not None:
        if fault.error_ratio is not None:
            figures["sim_http_error_ratio"] = fault.error_ratio
        if fault.latency_seconds is not None:
            figures["sim_http_latency_seconds"] = fault.latency_seconds
    return figures


def samples(world: World, faults: MetricFaults, at: float) -> list[tuple[dict, float]]:
    out = []
    for pod in world.pods.values():
        if not pod.ip:
            continue  # not scheduled yet: nothing to scrape
        for container, image in pod.images.items():
            labels = {"cluster": pod.cluster, "namespace": pod.namespace, "pod": pod.name, "image": image,
                      "container": container}
            for name, value in pod_figures(pod, container, image, faults, at).items():
                out.append(({"__name__": name, **labels}, value))
    return out


class BadData(ValueError):
    pass


def parse_time(text: str | None) -> float:
    """Unix seconds or RFC 3339, as Prometheus's ``time`` parameter."""
    if not text:
        return time.time()
    try:
        value = float(text)
        if math.isfinite(value):
            return value
    except ValueError:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise BadData(f'invalid parameter "time": cannot parse "{text[:100]}" to a valid timestamp')


def query(world: World, faults: MetricFaults, text: str | None, time_param: str | None) -> dict:
    """The ``data`` of a successful answer; raises BadData with Prometheus's wording."""
    if not isinstance(text, str | None) or not isinstance(time_param, str | None):
        raise BadData("query and time must be plain form fields")
    at = parse_time(time_param)
    try:
        tree = parse(text or "")
    except PromQLError as exc:
        raise BadData(f'invalid parameter "query": {exc}') from None
    result_type, value = evaluate(tree, samples(world, faults, at))
    stamp = round(at, 3)
    if result_type == "scalar":
        return {"resultType": "scalar", "result": [stamp, format_value(value)]}
    result = [{"metric": labels, "value": [stamp, format_value(sample)]} for labels, sample in value]
    result.sort(key=lambda item: sorted(item["metric"].items()))
    return {"resultType": "vector", "result": result}
