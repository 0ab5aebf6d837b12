"""Does a revision fit the environment's quota? Checked when a revision is created or promoted
for an environment, and again when it is applied (the placement may have changed).

What a revision needs = over its components, the pods the instance's placement gives it in all
clusters × what one pod counts against the quota (quota_usage.per_pod_need: the larger of
requests and limits, as the clusters' ResourceQuota caps both; exclusive cores from containers
the static CPU manager would pin). What is already planned in the environment by other
federated resources (other applications, hand-made resources) is added; this instance's own
resources are not (the revision replaces them). The quota is the environment's total over all
its clusters.
"""
from django.db.models import Q
from django.utils.translation import gettext as _

from clusters.federation import scheduling
from clusters.federation.models import Propagation
from clusters.federation.quota_usage import LIMITS, per_pod_need
from paas.errors import DomainError

from . import placement as placement_mod
from .render import container_resources, replicas_for

UNITS = {"cpu_millicores": "m", "memory_mib": "Mi", "ephemeral_storage_mib": "Mi", "pods": "",
         "exclusive_cpuset_cores": ""}


def _names() -> dict:
    return {"cpu_millicores": _("cpu"), "memory_mib": _("memory"), "ephemeral_storage_mib": _("ephemeral-storage"),
            "pods": _("pods"), "exclusive_cpuset_cores": _("exclusive cpuset cores")}


def _pod_template(component: dict) -> dict:
    return {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
        {"name": component["name"], "resources": container_resources(component)}]}}}}


def needs(spec: dict, environment_kind: str, placement: dict, topology) -> dict[str, int]:
    total = {name: 0 for name in LIMITS}
    for component in spec.get("components", []):
        pods = sum(placement_mod.pods_per_cluster(placement, replicas_for(component, environment_kind),
                                                  topology).values())
        for name, value in per_pod_need(_pod_template(component)).items():
            total[name] += value * pods
    return total


def planned_elsewhere(environment, instance) -> dict[str, int]:
    """What the environment's other federated resources plan, over all clusters."""
    rows = (Propagation.objects.filter(resource__environment=environment, resource__deleting=False)
            .exclude(state__in=(Propagation.State.REMOVING, Propagation.State.REMOVED)))
    if instance is not None and instance.pk:
        rows = rows.exclude(Q(resource__app_link__instance=instance))
    total = {name: 0 for name in LIMITS}
    needs_by_resource: dict[int, dict] = {}
    for replicas, resource_id, template, replicas_path in rows.values_list(
            "planned_replicas", "resource_id", "resource__template", "resource__ftype__replicas_path"):
        need = needs_by_resource.setdefault(resource_id, per_pod_need(template))
        count = (replicas or 0) if replicas_path else 1
        for name, value in need.items():
            total[name] += value * count
    return total


def _amount(name: str, value: int) -> str:
    return f"{value}{UNITS[name]}"


def check(*, environment, spec: dict, placement: dict, instance=None, topology=None) -> None:
    """DomainError (field "quota") naming each exceeded limit with its numbers."""
    from tenants.models import Quota

    quota = Quota.objects.filter(environment=environment).first()  # fresh: a cached one may be stale
    if quota is None:
        return
    topology = topology or scheduling.topology_for(environment)
    wanted = needs(spec, environment.kind, placement, topology)
    others = planned_elsewhere(environment, instance)
    names, problems = _names(), []
    for name in LIMITS:
        limit = getattr(quota, name)
        total = wanted[name] + others[name]
        if total <= limit:
            continue
        text = _("%(limit)s: needs %(needs)s, quota %(quota)s") % {
            "limit": names[name], "needs": _amount(name, total), "quota": _amount(name, limit)}
        if others[name]:
            text += " " + _("(this revision %(mine)s, already planned in %(env)s %(others)s)") % {
                "mine": _amount(name, wanted[name]), "env": environment, "others": _amount(name, others[name])}
        problems.append(text)
    if problems:
        raise DomainError(_("Quota of %(env)s exceeded: %(problems)s")
                          % {"env": environment, "problems": "; ".join(problems)}, field="quota",
                          code="quota_exceeded")
