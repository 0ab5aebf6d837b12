"""Demo federation for `make run`: in Acme Payments' production environment,
- Deployment "payments-api": 12 replicas divided by weight over the bound cells
  (the first cell weighs 2, the others 1);
- Service "payments-api" in every bound cluster (service discovery shows it);
- ConfigMap "payments-api-config" with a per-cell override (CELL, REGION).

Idempotent: what exists is left as it is. Needs the demo topology (bound cells)
from the cluster registry; without it, nothing is created and the reason is returned.
"""
from django.db import transaction

from clusters.models import Cell, EnvironmentBinding
from tenants.models import Environment

from . import services
from .models import FederatedResource, FederatedType

NAME = "payments-api"
RESOURCES = {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "256Mi"}


def _deployment() -> dict:
    labels = {"app": NAME}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME, "labels": labels},
            "spec": {"replicas": 12, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                         "name": "api", "image": "registry.local/acme/payments-api:1.4.2",
                         "ports": [{"name": "http", "containerPort": 8080}],
                         "envFrom": [{"configMapRef": {"name": f"{NAME}-config"}}],
                         "resources": {"requests": RESOURCES, "limits": RESOURCES}}]}}}}


def _service() -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": NAME, "labels": {"app": NAME}},
            "spec": {"selector": {"app": NAME}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


def _configmap() -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{NAME}-config"},
            "data": {"LOG_LEVEL": "info", "SETTLEMENT_BATCH": "500"}}


def _cells(environment) -> list[Cell]:
    bindings = EnvironmentBinding.objects.filter(environment=environment).select_related("cell", "cluster__cell")
    cells = {b.cell.slug if b.cell else b.cluster.cell.slug: (b.cell or b.cluster.cell) for b in bindings}
    return [cells[slug] for slug in sorted(cells)]


def load_demo_federation(*, actor) -> list[str]:
    """Create the demo resources that are missing; returns one line per resource."""
    environment = Environment.objects.filter(tenant__slug="acme", slug="prod").select_related("tenant").first()
    if environment is None:
        return ["federation demo: no acme/prod environment (load the tenant demo first)"]
    cells = _cells(environment)
    if not cells:
        return ["federation demo: acme/prod is not bound to any cell or cluster yet"]
    types = {t.kind: t for t in FederatedType.objects.filter(group__in=["", "apps"], source="builtin")}
    weights = {cell.slug: 2 if i == 0 else 1 for i, cell in enumerate(cells)}
    wanted = [
        (types["Deployment"], _deployment(), {"cells": [c.slug for c in cells], "replicaScheduling": {
            "type": "Divided", "totalReplicas": 12, "weights": weights}}, []),
        (types["Service"], _service(), {"cells": [c.slug for c in cells]}, []),
        (types["ConfigMap"], _configmap(), {"cells": [c.slug for c in cells]}, [
            {"clusterSelector": {"matchLabels": {"paas.io/cell": cell.slug}},
             "operations": [{"op": "add", "path": "/data/CELL", "value": cell.slug},
                            {"op": "add", "path": "/data/REGION", "value": cell.zone.region.slug}]}
            for cell in cells]),
    ]
    lines = []
    with transaction.atomic():
        for ftype, template, placement, overrides in wanted:
            name = template["metadata"]["name"]
            if FederatedResource.objects.filter(environment=environment, ftype=ftype, name=name).exists():
                lines.append(f"federation demo: {ftype.kind} {name} exists")
                continue
            services.federated_resource_create(actor=actor, environment=environment, ftype=ftype, name=name,
                                               template=template, placement=placement, overrides=overrides)
            lines.append(f"federation demo: {ftype.kind} {name} created in acme/prod over {len(cells)} cells")
    return lines
