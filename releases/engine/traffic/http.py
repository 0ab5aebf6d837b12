"""Providers speaking a JSON HTTP API (the simulator's registry and load balancer, or systems
with the same API): a row's ``url`` is the API's base address, ``config`` names the service."""
from urllib.parse import quote

import requests

from . import PodRef, ProviderError

TIMEOUT = (2.0, 5.0)


def call(method: str, url: str, *, name: str, json=None, allow_404: bool = True) -> dict | None:
    try:
        response = requests.request(method, url, json=json, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise ProviderError(f"traffic provider {name} did not answer ({exc.__class__.__name__})") from None
    if response.status_code == 404 and allow_404:
        return None  # not registered there (yet): nothing routes to it through this provider
    if response.status_code >= 400:
        try:
            detail = str(response.json().get("error", ""))[:200]
        except ValueError:
            detail = response.text[:200]
        raise ProviderError(f"traffic provider {name} answered {response.status_code}: {detail}")
    try:
        return response.json() if response.content else {}
    except ValueError:
        return {}


def q(value: str) -> str:
    return quote(value, safe="")


class RegistryProvider:
    """RPC service registry (SOFARegistry/Nacos-like): the instance is disabled, then enabled."""

    def __init__(self, row):
        self.name, self.url, self.config = row.name, row.url.rstrip("/"), row.config or {}

    def _service(self, pod: PodRef) -> str:
        return self.config.get("service") or f"{pod.application}.{pod.namespace}"

    def _set(self, pod: PodRef, enabled: bool) -> None:
        call("PUT", f"{self.url}/registry/v1/services/{q(self._service(pod))}/instances/"
                    f"{q(pod.cluster)}/{q(pod.namespace)}/{q(pod.name)}", name=self.name, json={"enabled": enabled})

    def take_out(self, pod: PodRef) -> None:
        self._set(pod, False)

    def put_back(self, pod: PodRef) -> None:
        self._set(pod, True)

    def serving(self, pods: list[PodRef]) -> set[str]:
        """Pods the registry hands out again (enabled and healthy); one it does not list cannot be
        handed out, so it counts as served (nothing to wait for)."""
        out = set()
        for service in {self._service(p) for p in pods}:
            found = call("GET", f"{self.url}/registry/v1/services/{q(service)}/instances", name=self.name) or {}
            listed = {(i.get("cluster"), i.get("pod")): i for i in found.get("instances", [])}
            for pod in pods:
                item = listed.get((pod.cluster, pod.name))
                if self._service(pod) == service and (item is None or (item.get("enabled") and item.get("healthy"))):
                    out.add(pod.name)
        return out


class LoadBalancerProvider:
    """SLB/ALB: the pod's backend weight goes to 0, then back to the configured weight."""

    def __init__(self, row):
        self.name, self.url, self.config = row.name, row.url.rstrip("/"), row.config or {}

    def _lb(self, pod: PodRef) -> str:
        return self.config.get("loadbalancer") or f"{pod.namespace}.{pod.service}"

    def _set(self, pod: PodRef, weight: int) -> None:
        call("PUT", f"{self.url}/lb/v1/loadbalancers/{q(self._lb(pod))}/backends/"
                    f"{q(pod.cluster)}/{q(pod.namespace)}/{q(pod.name)}", name=self.name, json={"weight": weight})

    def take_out(self, pod: PodRef) -> None:
        self._set(pod, 0)

    def put_back(self, pod: PodRef) -> None:
        self._set(pod, int(self.config.get("weight", 100)))

    def serving(self, pods: list[PodRef]) -> set[str]:
        """Pods the load balancer sends requests to again (weight > 0 and healthy)."""
        out = set()
        for lb in {self._lb(p) for p in pods}:
            found = call("GET", f"{self.url}/lb/v1/loadbalancers/{q(lb)}/backends", name=self.name) or {}
            listed = {(b.get("cluster"), b.get("pod")): b for b in found.get("backends", [])}
            for pod in pods:
                item = listed.get((pod.cluster, pod.name))
                if self._lb(pod) == lb and (item is None or (item.get("weight", 0) > 0 and item.get("healthy"))):
                    out.add(pod.name)
        return out
