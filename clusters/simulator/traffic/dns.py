"""DNS: zone ``paas.local`` with one A record ``<service>.<namespace>`` per Service,
holding the IPs of its ready pods in every cluster, as late as the load balancer sees
them (both follow the Endpoints through the same lagging controller).

An explicit removal of an IP (what a release does before touching a pod) applies at
once and stays until the IP is added back. The simulator's clusters hand out
overlapping pod IPs, so a removal can be limited to one cluster (``cluster``); without
it, it covers that IP in every cluster.
"""
from __future__ import annotations

from .loadbalancer import LoadBalancers
from .state import now

ZONE = "paas.local"
TTL = 5


class DnsZone:
    def __init__(self, balancers: LoadBalancers, zone: str = ZONE):
        self.balancers = balancers
        self.zone = zone
        self.removed: dict[str, set[tuple[str, str]]] = {}  # record name -> {(ip, cluster or "")}

    def _balancer(self, name: str):
        service, _, namespace = name.partition(".")
        return self.balancers.get(f"{namespace}.{service}") if service and namespace else None

    def _is_removed(self, name: str, ip: str, cluster: str) -> bool:
        removed = self.removed.get(name, ())
        return (ip, "") in removed or (ip, cluster) in removed

    def targets(self, name: str, at: float | None = None) -> list[tuple[str, str, str, str]]:
        """(ip, cluster, pod, uid) the record resolves to now."""
        balancer = self._balancer(name)
        if balancer is None:
            return []
        return [(b.ip, b.cluster, b.pod, b.uid) for b, healthy in self.balancers.backends(balancer, at)
                if healthy and b.ip and not self._is_removed(name, b.ip, b.cluster)]

    def names(self) -> list[str]:
        return [f"{b.service}.{b.namespace}" for b in self.balancers.list()]

    def exists(self, name: str) -> bool:
        return self._balancer(name) is not None

    def record(self, name: str) -> dict:
        targets = self.targets(name, now())
        return {"name": name, "fqdn": f"{name}.{self.zone}", "type": "A", "ttl": TTL,
                "ips": sorted({ip for ip, *_ in targets}),
                "targets": [{"ip": ip, "cluster": cluster, "pod": pod} for ip, cluster, pod, _ in sorted(targets)],
                "removed": [{"ip": ip, "cluster": cluster or None} for ip, cluster in sorted(self.removed.get(name, ()))]}

    def _known(self, name: str, ip: str, cluster: str) -> bool:
        balancer = self._balancer(name)
        if balancer is None:
            return False
        return any(b.ip == ip and (not cluster or b.cluster == cluster) for b, _ in self.balancers.backends(balancer))

    def remove(self, name: str, ip: str, cluster: str = "") -> bool:
        """Take an IP out of the record (False: the record has no such IP)."""
        if not self._known(name, ip, cluster) and not self._is_removed(name, ip, cluster):
            return False
        self.removed.setdefault(name, set()).add((ip, cluster))
        return True

    def restore(self, name: str, ip: str, cluster: str = "") -> bool:
        """Put an explicitly removed IP back (False: it was neither removed nor known)."""
        removed = self.removed.get(name, set())
        matching = {entry for entry in removed if entry[0] == ip and (not cluster or entry[1] in ("", cluster))}
        if not matching and not self._known(name, ip, cluster):
            return False
        removed -= matching
        if not removed:
            self.removed.pop(name, None)
        return True
