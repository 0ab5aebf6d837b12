"""How long a release step should take: a model that knows nothing about the simulator.

Per step, every pod of the step is updated at the same time (the CloneSet's partition is
lowered with maxUnavailable 100%, so the controller takes the whole batch at once), so a step
lasts as long as its slowest pod, plus the gates:

    pod   = traffic + ready
    traffic = drain_seconds + warmup_seconds         (0 when lossless is off)
    ready   = POD_READY_SECONDS + readiness probe initialDelaySeconds
              (+ POD_START_SECONDS when the pod is recreated: schedule, pull, old pod terminating)
    step  = wait_seconds (automatic steps) + max over targets(pod x waves) + gates
    gates = GATE_SECONDS (+ METRIC_GATE_SECONDS when metric gates are set)

A Deployment rolls a cluster with its default strategy (maxSurge 25%, maxUnavailable 25%), so
its pods go in waves of about a quarter: waves = ceil(pods / max(1, ceil(pods / 4))).
Manual confirmations are not counted (people are not modelled). The constants are settings
(RELEASE_POD_READY_SECONDS, ...) so an installation can calibrate them to its clusters.
"""
import math

from django.conf import settings


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def pod_ready_seconds(*, in_place: bool, startup_seconds: float) -> float:
    ready = _setting("RELEASE_POD_READY_SECONDS", 2.0) + startup_seconds
    if not in_place:
        ready += _setting("RELEASE_POD_START_SECONDS", 1.0)
    return ready


def traffic_seconds(options: dict) -> float:
    if not options.get("lossless", True):
        return 0.0
    return float(options.get("drain_seconds", 0)) + float(options.get("warmup_seconds", 0))


def waves(kind: str, pods: int) -> int:
    if kind != "Deployment" or pods <= 0:
        return 1
    return math.ceil(pods / max(1, math.ceil(pods / 4)))


def gate_seconds(options: dict) -> float:
    gates = options.get("gates") or {}
    seconds = _setting("RELEASE_GATE_SECONDS", 0.5)
    if gates.get("metrics"):
        seconds += _setting("RELEASE_METRIC_GATE_SECONDS", 1.0)
    return seconds


def step_seconds(step: dict, startup: dict[str, float], options: dict) -> float:
    """`startup`: component -> its readiness probe's initial delay."""
    slowest = 0.0
    for target in step["targets"]:
        changed = target["desired"] - target.get("before", 0)
        pod = traffic_seconds(options) + pod_ready_seconds(in_place=target["in_place"],
                                                           startup_seconds=startup.get(target["component"], 0.0))
        slowest = max(slowest, pod * waves(target["workload_kind"], changed))
    return round(float(step.get("wait_seconds", 0)) + slowest + gate_seconds(options), 1)
