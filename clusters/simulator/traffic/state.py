"""What the traffic side knows about the clusters: pods, services and endpoints as last
seen through each cluster's watch (``watcher.py``), and ``Lagged``, the delayed view a
registry, a load balancer or DNS has of that truth.

The world is the *truth* the request generator checks a request against ("is the pod
serving at this instant?"); the providers' views trail it, which is what makes a release
that does not take pods out of traffic first lose requests.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

# The label naming a pod's application: the portal's own (applications/render.py), or the
# generic one for pods made by hand (tests, other tools).
APP_LABELS = ("app.stratus.io/application", "paas.io/application")


def now() -> float:
    return time.monotonic()


@dataclass
class PodView:
    """The facts of one pod that routing and metrics depend on."""

    cluster: str
    namespace: str
    name: str
    uid: str
    ip: str = ""
    labels: dict = field(default_factory=dict)
    images: dict = field(default_factory=dict)  # container name -> image
    ready: bool = False
    containers_ready: bool = False
    terminating: bool = False
    restarts: int = 0
    port: int = 8080

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.cluster, self.namespace, self.name)

    @property
    def id(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.name}"

    @property
    def serving(self) -> bool:
        return self.ready and self.containers_ready and not self.terminating and bool(self.ip)

    def not_serving_reason(self) -> str:
        if self.terminating:
            return "pod terminating"
        if not self.ready or not self.ip:
            return "pod not ready"
        if not self.containers_ready:  # restarting, before the Ready condition caught up
            return "container not ready"
        return ""

    @classmethod
    def from_object(cls, cluster: str, obj: dict) -> PodView:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or ()}
        statuses = status.get("containerStatuses") or []
        containers = spec.get("containers") or []
        port = next((p.get("containerPort") for c in containers for p in c.get("ports") or () if p.get("containerPort")),
                    8080)
        return cls(
            cluster=cluster, namespace=meta.get("namespace", ""), name=meta.get("name", ""), uid=meta.get("uid", ""),
            ip=status.get("podIP") or "", labels=dict(meta.get("labels") or {}),
            images={c.get("name", ""): c.get("image", "") for c in containers},
            ready=conditions.get("Ready") == "True",
            # Every container must be ready: a container restarting in place is not, even
            # for the instant before the pod's Ready condition catches up.
            containers_ready=bool(statuses) and all(s.get("ready") for s in statuses) and len(statuses) >= len(containers),
            terminating=bool(meta.get("deletionTimestamp")),
            restarts=sum(int(s.get("restartCount") or 0) for s in statuses), port=int(port))


class Lagged:
    """A value whose changes become visible only ``lag`` seconds after they happen, as in a
    registry that notices a dead instance at its heartbeat timeout or a cloud controller
    that reconciles load balancer backends every few seconds.

    Computed on read (no timers): the visible value is that of the newest change whose
    lag has passed. ``lag_for(value)`` may differ per value (a registry marks an instance
    healthy on its first heartbeat but unhealthy only after a timeout)."""

    __slots__ = ("changes",)

    def __init__(self, value, at: float = float("-inf")):
        self.changes: list[tuple[float, object]] = [(at, value)]

    def set(self, value, at: float) -> None:
        if self.changes[-1][1] != value:
            self.changes.append((at, value))

    @property
    def latest(self):
        return self.changes[-1][1]

    def visible(self, at: float, lag_for) -> object:
        """The newest value that held for its whole lag. A flap shorter than the lag never shows,
        as a health check that needs several failures in a row never sees a 1 s restart: such a
        pod keeps getting requests (and fails them) unless it was taken out first, and it does not
        drop out of rotation late, after it is back and serving."""
        changes = self.changes
        for index in range(len(changes) - 1, -1, -1):
            when, value = changes[index]
            until = changes[index + 1][0] if index + 1 < len(changes) else float("inf")
            shows_at = when + lag_for(value)
            if index == 0 or (shows_at <= at and shows_at <= until):
                if index:
                    del changes[:index]  # older changes can never show again
                return value
        raise AssertionError("unreachable")


class World:
    """Pods, services and endpoints of every cluster, keyed by (cluster, namespace, name)."""

    def __init__(self):
        self.pods: dict[tuple[str, str, str], PodView] = {}
        self.by_ip: dict[tuple[str, str], tuple[str, str, str]] = {}  # (cluster, ip) -> pod key
        self.services: dict[tuple[str, str, str], dict] = {}
        self.endpoints: dict[tuple[str, str, str], dict] = {}
        self.listeners: list = []  # callables (kind, key, old, new, at)
        self.synced: set[tuple[str, str]] = set()  # (cluster, kind) listed at least once

    def _emit(self, kind: str, key, old, new) -> None:
        at = now()
        for listener in self.listeners:
            listener(kind, key, old, new, at)

    def put_pod(self, cluster: str, obj: dict) -> None:
        pod = PodView.from_object(cluster, obj)
        old = self.pods.get(pod.key)
        if old is not None and old.ip and self.by_ip.get((cluster, old.ip)) == old.key:
            del self.by_ip[(cluster, old.ip)]
        self.pods[pod.key] = pod
        if pod.ip:
            self.by_ip[(cluster, pod.ip)] = pod.key
        self._emit("pod", pod.key, old, pod)

    def remove_pod(self, key) -> None:
        old = self.pods.pop(key, None)
        if old is None:
            return
        if old.ip and self.by_ip.get((key[0], old.ip)) == key:
            del self.by_ip[(key[0], old.ip)]
        self._emit("pod", key, old, None)

    def put(self, kind: str, cluster: str, obj: dict) -> None:
        table = self.services if kind == "service" else self.endpoints
        meta = obj.get("metadata") or {}
        key = (cluster, meta.get("namespace", ""), meta.get("name", ""))
        old = table.get(key)
        table[key] = obj
        self._emit(kind, key, old, obj)

    def remove(self, kind: str, key) -> None:
        table = self.services if kind == "service" else self.endpoints
        old = table.pop(key, None)
        if old is not None:
            self._emit(kind, key, old, None)

    def keys_of(self, kind: str, cluster: str) -> list:
        table = {"pod": self.pods, "service": self.services, "endpoints": self.endpoints}[kind]
        return [key for key in table if key[0] == cluster]

    def pod_status(self, key, uid: str = "") -> tuple[PodView | None, str]:
        """(pod, why it cannot serve a request now: "" when it can)."""
        pod = self.pods.get(key)
        if pod is None or (uid and pod.uid != uid):
            return None, "pod gone"
        return pod, pod.not_serving_reason()
