"""The release demo: the demo instance's traffic goes through the simulator's service registry,
load balancer and DNS, with a request generator running through the load balancer, so a demo user
releasing the next revision sees pods leave and rejoin traffic and the request success ratio live.

Idempotent: `make run` calls it on every start (the traffic simulator forgets its generators when
it stops; the providers are rows and stay)."""
from __future__ import annotations

import requests
from django.conf import settings

from applications.models import AppInstance
from applications.validation import object_name
from clusters.federation.render import namespace_for

GENERATOR = "payments-api-demo"
RATE = 40  # requests per second: visible on the page, negligible for the machine


def load_demo_traffic(*, actor, instance: AppInstance, say=print) -> None:
    from .models import TrafficProvider
    from .services import traffic_provider_create

    base = settings.PAAS_TRAFFIC_SIM_URL.rstrip("/")
    existing = set(instance.traffic_providers.values_list("name", flat=True))
    wanted = [("rpc-registry", TrafficProvider.Kind.REGISTRY, {"generator": GENERATOR}),
              ("slb", TrafficProvider.Kind.LOAD_BALANCER, {}),
              ("dns", TrafficProvider.Kind.DNS, {})]
    for name, kind, config in wanted:
        if name not in existing:
            traffic_provider_create(actor=actor, instance=instance, kind=kind, name=name, url=base, config=config)
    components = [c["name"] for c in (instance.baseline.spec.get("components", []) if instance.baseline else [])]
    if not components:
        return
    namespace = namespace_for(instance.application.tenant.slug, instance.environment.slug)
    target = f"lb:{namespace}.{object_name(instance.application.name, components[0])}"
    try:
        answer = requests.post(f"{base}/traffic/v1/generators", json={"name": GENERATOR, "target": target,
                                                                       "rate": RATE}, timeout=5)
    except requests.RequestException as exc:
        say(f"release demo: no request generator ({exc.__class__.__name__}: is the traffic simulator running?)")
        return
    if answer.status_code in (200, 201):
        say(f"release demo: {RATE} requests/s through the simulator's load balancer ({target})")
    elif answer.status_code != 409:  # 409: already running since an earlier start
        say(f"release demo: no request generator ({answer.status_code} {answer.text[:200]})")
