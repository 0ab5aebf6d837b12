"""DNS records: the pod's IP leaves the service's A record, then is added back."""
from .http import call, q


class DnsProvider:
    def __init__(self, row):
        self.name, self.url, self.config = row.name, row.url.rstrip("/"), row.config or {}

    def _name(self, pod) -> tuple[str, str]:
        return self.config.get("zone") or "paas.local", self.config.get("record") or f"{pod.service}.{pod.namespace}"

    def _record(self, pod) -> str:
        zone, record = self._name(pod)
        # Pod IPs of different clusters may overlap: the cluster says which pod's address is meant.
        return f"{self.url}/dns/v1/zones/{q(zone)}/records/{q(record)}/{q(pod.ip)}?cluster={q(pod.cluster)}"

    def serving(self, pods) -> set[str]:
        """Pods whose address the record resolves to again (a record not there: nothing to wait for)."""
        out = set()
        for zone, record in {self._name(p) for p in pods}:
            found = call("GET", f"{self.url}/dns/v1/zones/{q(zone)}/records/{q(record)}", name=self.name)
            targets = {(t.get("cluster"), t.get("pod")) for t in (found or {}).get("targets", [])}
            for pod in pods:
                if self._name(pod) == (zone, record) and (found is None or (pod.cluster, pod.name) in targets):
                    out.add(pod.name)
        return out

    def take_out(self, pod) -> None:
        if pod.ip:
            call("DELETE", self._record(pod), name=self.name)

    def put_back(self, pod) -> None:
        if pod.ip:
            call("PUT", self._record(pod), name=self.name, json={})
