"""Load balancers (SLB/ALB-like): one per Service name and namespace across all clusters,
id ``<namespace>.<service>``, whose backends follow the Services' Endpoints the way a
cloud controller does: a few seconds late (``lag``), in both directions.

A backend in the Endpoints' ``addresses`` is healthy, one in ``notReadyAddresses`` is
listed but unhealthy, one that left the Endpoints is dropped — each only once the lag
has passed. An operator's weight (0..100, 0 = no new requests) takes effect at once and
stays while the backend exists.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .state import Lagged, World, now

ABSENT, NOT_READY, READY = None, "notready", "ready"
DEFAULT_WEIGHT = 100


@dataclass
class Backend:
    cluster: str
    namespace: str
    pod: str
    uid: str
    ip: str
    port: int
    weight: int = DEFAULT_WEIGHT
    state: Lagged = field(default_factory=lambda: Lagged(ABSENT))

    @property
    def id(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.pod}"

    @property
    def pod_key(self) -> tuple[str, str, str]:
        return (self.cluster, self.namespace, self.pod)


@dataclass
class LoadBalancer:
    namespace: str
    service: str
    clusters: set = field(default_factory=set)  # clusters where the Service exists
    backends: dict = field(default_factory=dict)  # backend id -> Backend

    @property
    def id(self) -> str:
        return f"{self.namespace}.{self.service}"


def endpoint_addresses(endpoints: dict) -> dict[str, tuple[str, str, int, str]]:
    """pod name -> (uid, ip, port, READY | NOT_READY) from an Endpoints object."""
    out = {}
    for subset in endpoints.get("subsets") or ():
        ports = subset.get("ports") or [{}]
        port = int(ports[0].get("port") or 0)
        for field_name, state in (("notReadyAddresses", NOT_READY), ("addresses", READY)):
            for address in subset.get(field_name) or ():
                ref = address.get("targetRef") or {}
                if ref.get("kind", "Pod") == "Pod" and ref.get("name"):
                    out[ref["name"]] = (ref.get("uid", ""), address.get("ip", ""), port, state)
    return out


class LoadBalancers:
    def __init__(self, world: World, lag: float = 2.0):
        self.world = world
        self.lag = lag
        self.balancers: dict[str, LoadBalancer] = {}
        world.listeners.append(self._on_change)

    def _lag(self, _value) -> float:
        return self.lag

    def _balancer(self, namespace: str, service: str) -> LoadBalancer:
        lb_id = f"{namespace}.{service}"
        if lb_id not in self.balancers:
            self.balancers[lb_id] = LoadBalancer(namespace, service)
        return self.balancers[lb_id]

    def _on_change(self, kind: str, key, old, new, at: float) -> None:
        cluster, namespace, name = key
        if kind == "service":
            balancer = self._balancer(namespace, name)
            (balancer.clusters.add if new is not None else balancer.clusters.discard)(cluster)
            return
        if kind != "endpoints":
            return
        # What a controller started with is there at once; later changes trail.
        when = at if (cluster, "endpoints") in self.world.synced else float("-inf")
        balancer = self._balancer(namespace, name)
        addresses = endpoint_addresses(new) if new is not None else {}
        for backend in balancer.backends.values():
            if backend.cluster == cluster and backend.pod not in addresses:
                backend.state.set(ABSENT, when)
        for pod, (uid, ip, port, state) in addresses.items():
            backend_id = f"{cluster}/{namespace}/{pod}"
            backend = balancer.backends.get(backend_id)
            if backend is None:
                backend = balancer.backends[backend_id] = Backend(cluster, namespace, pod, uid, ip, port)
            elif backend.uid != uid and backend.state.latest is not ABSENT:
                backend.state.set(ABSENT, when)  # a new pod of the same name (StatefulSet): a new backend
            backend.uid, backend.ip, backend.port = uid, ip, port
            backend.state.set(state, when)

    def _visible(self, balancer: LoadBalancer, at: float) -> list[tuple[Backend, str]]:
        out = []
        for backend_id, backend in list(balancer.backends.items()):
            state = backend.state.visible(at, self._lag)
            if state is ABSENT:
                if backend.state.latest is ABSENT:
                    del balancer.backends[backend_id]
                continue
            out.append((backend, state))
        return out

    def list(self) -> list[LoadBalancer]:
        at = now()
        for lb_id, balancer in list(self.balancers.items()):
            if not self._visible(balancer, at) and not balancer.clusters and not balancer.backends:
                del self.balancers[lb_id]
        return [self.balancers[k] for k in sorted(self.balancers)]

    def get(self, lb_id: str) -> LoadBalancer | None:
        return self.balancers.get(lb_id)

    def backends(self, balancer: LoadBalancer, at: float | None = None) -> list[tuple[Backend, bool]]:
        """Listed backends with their health as the LB sees it now."""
        at = now() if at is None else at
        return sorted(((b, s == READY) for b, s in self._visible(balancer, at)), key=lambda pair: pair[0].id)

    def describe(self, backend: Backend, healthy: bool) -> dict:
        return {"id": backend.id, "cluster": backend.cluster, "namespace": backend.namespace, "pod": backend.pod,
                "ip": backend.ip, "port": backend.port, "weight": backend.weight, "healthy": healthy}

    def summary(self, balancer: LoadBalancer) -> dict:
        listed = self.backends(balancer)
        return {"id": balancer.id, "namespace": balancer.namespace, "service": balancer.service,
                "clusters": sorted(balancer.clusters), "backends": len(listed),
                "healthy_backends": sum(1 for _, healthy in listed if healthy)}

    def routable(self, lb_id: str, at: float) -> list[Backend]:
        """Where the LB would send a new request now: healthy and weight > 0."""
        balancer = self.balancers.get(lb_id)
        if balancer is None:
            return []
        return [b for b, state in self._visible(balancer, at) if state == READY and b.weight > 0]
