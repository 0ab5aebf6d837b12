"""An instance's placement: federation's vocabulary (clusters/federation/placement.py) without
totalReplicas, which each component's replicas for the environment give at render time.

  {"cells": ["cell-a"], "zones": [...], "regions": [...], "clusters": [...], "labelSelector": {...},
   "replicaScheduling": {"type": "Duplicated"} | {"type": "Divided", "weights": {...}, "min": {...}, "max": {...}}}

Duplicated: every selected cluster runs the component's replicas; Divided: the replicas are the
total, split by weight. Checked against the environment's bindings by federation's own
validation, so a cell outside them is refused the same way (a DomainError naming `placement`).
"""
from django.utils.translation import gettext as _

from clusters.federation import scheduling, validation
from clusters.federation.models import FederatedType
from clusters.federation.placement import plan
from paas.errors import DomainError

from .render import workload_placement

# Stands in for totalReplicas while checking: large, so min/max checks never trip on it.
_ANY_TOTAL = validation.MAX_COUNT


def _deployment_type() -> FederatedType:
    ftype = FederatedType.objects.filter(group="apps", kind="Deployment").first()
    return ftype or FederatedType(group="apps", version="v1", kind="Deployment", plural="deployments",
                                  replicas_path="spec.replicas")


def clean(placement, environment, topology=None) -> dict:
    if placement in (None, ""):
        placement = {}
    if not isinstance(placement, dict):
        raise DomainError(_("placement: must be an object"), field="placement")
    probe = dict(placement)
    scheduling_in = placement.get("replicaScheduling")
    divided = isinstance(scheduling_in, dict) and scheduling_in.get("type") == "Divided"
    if divided:
        if "totalReplicas" in scheduling_in:
            raise DomainError(_("placement.replicaScheduling.totalReplicas: each component's replicas give the "
                                "total; leave it out"), field="placement")
        probe["replicaScheduling"] = {**scheduling_in, "totalReplicas": _ANY_TOTAL}
    topology = topology or scheduling.topology_for(environment)
    try:
        cleaned = validation.validate_placement(probe, _deployment_type(), topology)
    except DomainError as exc:
        # The whole placement is the field (the message keeps the exact path).
        raise DomainError(exc.message, field="placement", code="placement") from None
    if divided:
        cleaned["replicaScheduling"].pop("totalReplicas", None)
    return cleaned


def pods_per_cluster(placement: dict, replicas: int, topology) -> dict[str, int]:
    """Cluster slug -> pods of one component with `replicas` for the environment."""
    result = plan(workload_placement(placement, replicas), topology.clusters, template_replicas=replicas,
                  has_replicas=True)
    return {slug: count or 0 for slug, count in result.targets.items()}
