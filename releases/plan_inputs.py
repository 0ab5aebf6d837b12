"""What a plan is built from, read from the database: the instance's clusters in its environment's
topology, and per component of the target revision its workload, its pods per cluster and whether
the change from the baseline can be made in place.

In place follows OpenKruise's InPlaceIfPossible rule: both revisions run the component as a
CloneSet and their rendered pod templates (applications/render.py, the objects federation
applies) are equal once container images and pod metadata (labels, annotations) are set aside.
Rendering needs no secret value: names of generated ConfigMaps/Secrets come from the spec
(content hashes and the secret version), and the pull secret's name is the same whatever
logins it holds, so a stand-in login makes both renders carry it alike.
"""
import copy

from applications import placement as placement_mod
from applications import render
from applications.models import InstanceResource

from .plan import CLONESET, DEPLOYMENT, ClusterRow, Workload

_PULL_STAND_IN = {"registry.invalid": ("-", "-")}


def clusters_of(topology) -> list[ClusterRow]:
    return [ClusterRow(id=c.pk, slug=c.slug, cell=c.cell, zone=c.zone, region=c.region)
            for c in topology.clusters if c.pk is not None]


def _context(instance, revision) -> render.Context:
    return render.Context(application=instance.application.name, instance_id=instance.pk, revision=revision.number,
                          environment_kind=instance.environment.kind, placement=instance.placement or {},
                          secret_values={}, pull_auths=_PULL_STAND_IN)


def pod_templates(instance, revision) -> dict[str, tuple[str, dict]]:
    """component -> (workload kind, rendered workload template) of one revision."""
    out = {}
    for desired in render.objects(_context(instance, revision), revision.spec or {}):
        if desired.role == "workload":
            out[desired.component] = (desired.kind, desired.template)
    return out


def _comparable(template: dict) -> dict:
    pod = copy.deepcopy((template.get("spec") or {}).get("template") or {})
    pod.pop("metadata", None)
    for container in (pod.get("spec") or {}).get("containers", []):
        container.pop("image", None)
    return pod


def in_place_change(before: tuple[str, dict] | None, after: tuple[str, dict]) -> bool:
    if before is None or before[0] != CLONESET or after[0] != CLONESET:
        return False
    return _comparable(before[1]) == _comparable(after[1])


def _startup_seconds(component: dict) -> float:
    probe = component.get("readiness_probe") or {}
    value = probe.get("initial_delay_seconds", 0)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def workloads_of(instance, baseline, target, topology) -> list[Workload]:
    env_kind = instance.environment.kind
    links = dict(InstanceResource.objects.filter(instance=instance, role=InstanceResource.Role.WORKLOAD)
                 .values_list("component", "resource_id"))
    old = pod_templates(instance, baseline) if baseline is not None else {}
    new = pod_templates(instance, target)
    out = []
    for component in (target.spec or {}).get("components", []):
        name = component["name"]
        kind, template = new[name]
        replicas = render.replicas_for(component, env_kind)
        pods = {slug: n for slug, n in placement_mod.pods_per_cluster(instance.placement or {}, replicas,
                                                                      topology).items() if n}
        out.append(Workload(component=name, kind=CLONESET if kind == CLONESET else DEPLOYMENT,
                            name=template["metadata"]["name"], resource_id=links.get(name),
                            in_place=in_place_change(old.get(name), (kind, template)), pods=pods,
                            startup_seconds=_startup_seconds(component)))
    return out
