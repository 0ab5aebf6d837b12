"""Traffic providers: how one pod leaves traffic before it is touched and rejoins it after.

Every provider answers take_out(pod) / put_back(pod), both idempotent (a resumed release calls
them again for the pod it was handling). The Kubernetes readiness gate is built in and needs no
call: the CloneSet controller turns the pod's InPlaceUpdateReady condition False for the update
(the pod leaves the Service endpoints) and True when its new containers run (OpenKruise's own
refresh resets that condition, so nobody else may set it). The instance's TrafficProvider rows add
an RPC registry, a load balancer, DNS records or a signed webhook, which know nothing of
readiness and must be told before the pod is touched.
A provider that does not answer raises ProviderError naming it; the executor retries on its next
pass and fails the step if it keeps failing (it never touches a pod still in traffic).
"""
from dataclasses import dataclass

from ...models import TrafficProvider


class ProviderError(Exception):
    pass


@dataclass(frozen=True)
class PodRef:
    cluster: str  # cluster slug (the simulator's cluster name)
    namespace: str
    name: str
    ip: str
    application: str
    component: str
    service: str  # the component's Kubernetes Service name (object_name(app, component))


def providers_for(instance) -> list:
    """The instance's enabled providers (the readiness gate is built in)."""
    from .dns import DnsProvider
    from .http import LoadBalancerProvider, RegistryProvider
    from .webhook import WebhookProvider

    kinds = {TrafficProvider.Kind.REGISTRY: RegistryProvider, TrafficProvider.Kind.LOAD_BALANCER: LoadBalancerProvider,
             TrafficProvider.Kind.DNS: DnsProvider, TrafficProvider.Kind.WEBHOOK: WebhookProvider}
    out = []
    for row in TrafficProvider.objects.filter(instance=instance, enabled=True).order_by("name"):
        out.append(kinds[row.kind](row))
    return out


def generator_for(instance) -> tuple[str, str] | None:
    """(base URL, generator name) when one of the instance's providers names a request generator."""
    for row in TrafficProvider.objects.filter(instance=instance, enabled=True).order_by("name"):
        name = (row.config or {}).get("generator")
        if name and row.kind != TrafficProvider.Kind.WEBHOOK:
            return row.url.rstrip("/"), str(name)
    return None
