"""DNS records: the pod's IP leaves the service's A record, then is added back."""
from .http import call, q


class DnsProvider:
    def __init__(self, row):
        self.name, self.url, self.config = row.name, row.url.rstrip("/"), row.config or {}

    def _record(self, pod) -> str:
        zone = self.config.get("zone") or "paas.local"
        record = self.config.get("record") or f"{pod.service}.{pod.namespace}"
        # Pod IPs of different clusters may overlap: the cluster says which pod's address is meant.
        return f"{self.url}/dns/v1/zones/{q(zone)}/records/{q(record)}/{q(pod.ip)}?cluster={q(pod.cluster)}"

    def take_out(self, pod) -> None:
        if pod.ip:
            call("DELETE", self._record(pod), name=self.name)

    def put_back(self, pod) -> None:
        if pod.ip:
            call("PUT", self._record(pod), name=self.name, json={})
