"""A service registry (SOFARegistry/Nacos-like): ready pods register themselves as an
application would at start, under ``<application label>.<namespace>`` (state.APP_LABELS).

An instance stays registered while its pod exists. ``healthy`` follows the pod's
readiness the way a registry's heartbeats do: up at the first heartbeat (at once here),
down only when heartbeats have been missing for the timeout (``heartbeat`` seconds).
A pod that is gone is dropped at that same timeout. ``enabled`` is the operator's switch
(what a lossless release flips) and takes effect at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .state import APP_LABELS, Lagged, PodView, World, now


@dataclass
class Instance:
    service: str
    cluster: str
    namespace: str
    pod: str
    uid: str
    ip: str
    port: int
    enabled: bool = True
    health: Lagged = field(default_factory=lambda: Lagged(True))
    gone: bool = False

    @property
    def id(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.pod}"

    @property
    def pod_key(self) -> tuple[str, str, str]:
        return (self.cluster, self.namespace, self.pod)


def service_of(pod: PodView) -> str | None:
    app = next((pod.labels[label] for label in APP_LABELS if pod.labels.get(label)), None)
    return f"{app}.{pod.namespace}" if app else None


class ServiceRegistry:
    def __init__(self, world: World, heartbeat: float = 3.0):
        self.heartbeat = heartbeat
        self.instances: dict[tuple[str, str], Instance] = {}  # (service, id) -> instance
        self.by_pod: dict[tuple[str, str, str], Instance] = {}
        world.listeners.append(self._on_change)

    def _lag(self, healthy) -> float:
        return 0.0 if healthy else self.heartbeat

    def _on_change(self, kind: str, key, old, pod: PodView | None, at: float) -> None:
        if kind != "pod":
            return
        current = self.by_pod.get(key)
        service = service_of(pod) if pod is not None else None
        if current is not None and (pod is None or pod.uid != current.uid or service != current.service):
            # The process that registered is gone: its heartbeats stop.
            current.health.set(False, at)
            current.gone = True
            del self.by_pod[key]
            current = None
        if pod is None or service is None:
            return
        if current is None:
            if not pod.serving:
                return  # the application registers once it has started
            current = Instance(service, pod.cluster, pod.namespace, pod.name, pod.uid, pod.ip, pod.port)
            self.instances[(service, current.id)] = current  # replaces a gone one of the same name
            self.by_pod[key] = current
        current.ip = pod.ip or current.ip
        current.health.set(pod.serving, at)

    def _live(self, at: float) -> list[Instance]:
        """Registered instances, dropping gone ones whose heartbeat timeout has passed."""
        out = []
        for key, instance in list(self.instances.items()):
            healthy = instance.health.visible(at, self._lag)
            if instance.gone and not healthy:
                del self.instances[key]
                continue
            out.append(instance)
        return out

    def services(self) -> list[str]:
        return sorted({i.service for i in self._live(now())})

    def instances_of(self, service: str) -> list[Instance]:
        return sorted((i for i in self._live(now()) if i.service == service), key=lambda i: i.id)

    def healthy(self, instance: Instance, at: float | None = None) -> bool:
        return bool(instance.health.visible(now() if at is None else at, self._lag))

    def describe(self, instance: Instance) -> dict:
        return {"id": instance.id, "service": instance.service, "cluster": instance.cluster,
                "namespace": instance.namespace, "pod": instance.pod, "ip": instance.ip, "port": instance.port,
                "enabled": instance.enabled, "healthy": self.healthy(instance)}

    def find(self, service: str, instance_id: str) -> Instance | None:
        self._live(now())
        return self.instances.get((service, instance_id))

    def routable(self, service: str, at: float) -> list[Instance]:
        """Where a client of the registry would send a call now: enabled and healthy."""
        return [i for i in self._live(at) if i.service == service and i.enabled and i.health.visible(at, self._lag)]
