"""Quota usage: what each member cluster reports against the environment's quota, what
the deployed federated resources ask for, and what a change would add.

Every member cluster holds the environment's namespace with the full quota
(render.quota_object), so a quota is enforced per cluster: "2 pods left" is always
said of one cluster. Three figures per limit and cluster:

- used: the ResourceQuota's status.used as the cluster reports it, read by collect()
  with the status collection (one label-selected list call per cluster);
- planned: planned replicas x the pod template's per-pod need, over the federated
  resources of the environment (what is deployed asks for this much, whether or not
  the cluster could create all of it);
- left: limit - max(used, planned) — the larger, because pods refused by the quota are
  not "used" yet still wanted, and pods of objects outside the federation are used
  without being planned.

A pod's need per limit is the larger of its summed requests and limits: the quota
caps both at the same value (quota_object), so the larger binds. Overrides that
change resources per cluster are not taken into account (the template's figures
are used everywhere). Exclusive cpuset cores have no ResourceQuota equivalent in
Kubernetes: they are a platform-level limit, planned from containers that would get
exclusive cores under the static CPU manager (Guaranteed QoS, whole cores) and never
reported by a cluster.
"""
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from kubernetes.client import ApiException
from kubernetes.utils import parse_quantity

from . import kubeio
from .bulk import update_rows
from .models import MemberNamespace, Propagation
from .render import MANAGED_BY_LABEL, MANAGER, QUOTA_NAME

logger = logging.getLogger(__name__)
State = Propagation.State

# Our limit name -> (the ResourceQuota's key for used, the unit one of ours is, in the quantity's base unit).
LIMITS = {
    "cpu_millicores": ("cpu", Decimal("0.001")),
    "memory_mib": ("memory", Decimal(2**20)),
    "ephemeral_storage_mib": ("ephemeral-storage", Decimal(2**20)),
    "pods": ("pods", Decimal(1)),
    "exclusive_cpuset_cores": (None, Decimal(1)),  # platform-level: no Kubernetes quota
}
CLUSTER_LIMITS = [name for name, (key, _unit) in LIMITS.items() if key]
ALLOCATABLE_KEY = "federation:allocatable:{}"
ALLOCATABLE_SECONDS = 24 * 3600


def _quantity(value) -> Decimal:
    try:
        return parse_quantity(value)
    except (ValueError, TypeError, ArithmeticError):
        return Decimal(0)


def _in_unit(value, unit: Decimal) -> int:
    return int(-(-_quantity(value) // unit))  # rounded up, as quota accounting does


# -- reading what clusters report ------------------------------------------------------------

def collect_cluster(cluster_id: int) -> dict:
    """The task's entry (federation.collect_status runs it after the objects' status)."""
    from clusters import kube
    from clusters.crypto import CredentialsUnreadable
    from clusters.models import Cluster

    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None or not MemberNamespace.objects.filter(cluster=cluster).exists():
        return {}
    try:
        return {"quota_changed": collect(kube.api_client(cluster), cluster)}
    except (kubeio.ClusterUnreachable, CredentialsUnreadable, ApiException) as exc:
        logger.info("quota usage of %s not collected: %s", cluster.slug, exc)
        return {"quota_error": str(exc)[:300]}


def collect(client, cluster) -> int:
    """Read the platform's ResourceQuota of every namespace in the cluster (one call) and the
    nodes' allocatable capacity (one call); store what changed. Returns how many namespaces
    changed. Called by status.collect_status with its client; errors propagate to it."""
    listing = kubeio.list_objects(client, "/api/v1/resourcequotas", label_selector=f"{MANAGED_BY_LABEL}={MANAGER}")
    reported = {}
    for item in (listing or {}).get("items") or ():
        meta = item.get("metadata") or {}
        if meta.get("name") == QUOTA_NAME:
            status = item.get("status") or {}
            reported[meta.get("namespace")] = {"hard": status.get("hard") or {}, "used": status.get("used") or {}}
    now, changed = timezone.now(), []
    for member in MemberNamespace.objects.filter(cluster=cluster).only("pk", "name", "quota_status"):
        status = reported.get(member.name, {})
        if status != member.quota_status:
            member.quota_status, member.quota_observed_at = status, now
            changed.append(member)
    with transaction.atomic():
        update_rows(MemberNamespace, changed, ["quota_status", "quota_observed_at"])
    _remember_allocatable(client, cluster)
    return len(changed)


def _remember_allocatable(client, cluster) -> None:
    # An observation the dashboard divides by; kept in the cache (it is read again every collection).
    nodes = kubeio.request(client, "GET", "/api/v1/nodes") or {}
    total = {name: 0 for name in CLUSTER_LIMITS}
    for node in nodes.get("items") or ():
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        for name in CLUSTER_LIMITS:
            key, unit = LIMITS[name]
            total[name] += _in_unit(allocatable.get(key, 0), unit)
    try:
        cache.set(ALLOCATABLE_KEY.format(cluster.pk), total, ALLOCATABLE_SECONDS)
    except Exception:  # the dashboard then says "not reported"
        logger.warning("cache unavailable: allocatable capacity of %s not kept", cluster.slug)


def allocatable(cluster_ids) -> dict[int, dict]:
    try:
        found = cache.get_many([ALLOCATABLE_KEY.format(pk) for pk in cluster_ids])
    except Exception:
        return {}
    return {pk: found[key] for pk in cluster_ids if (key := ALLOCATABLE_KEY.format(pk)) in found}


def used_of(quota_status: dict) -> dict:
    """Our limit names -> used, from a ResourceQuota status (the larger of requests.* and limits.*)."""
    used = quota_status.get("used") or {}
    out = {}
    for name in CLUSTER_LIMITS:
        key, unit = LIMITS[name]
        keys = [key] if key == "pods" else [f"requests.{key}", f"limits.{key}", key]
        values = [_in_unit(used[k], unit) for k in keys if k in used]
        if values:
            out[name] = max(values)
    return out


# -- what a pod template asks for ------------------------------------------------------------

def pod_spec_of(template: dict) -> dict | None:
    spec = (template or {}).get("spec") or {}
    if template.get("kind") == "Pod":
        return spec
    pod = (spec.get("template") or {}).get("spec")
    return pod if isinstance(pod, dict) else None


def per_pod_need(template: dict) -> dict:
    """Our limit names -> what one pod of this template counts against the quota (empty: no pods)."""
    pod = pod_spec_of(template)
    if pod is None:
        return {}
    need = {name: 0 for name in LIMITS}
    need["pods"] = 1
    for container in pod.get("containers") or ():
        resources = (container or {}).get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for name in CLUSTER_LIMITS:
            key, unit = LIMITS[name]
            if key != "pods":
                need[name] += max(_in_unit(requests.get(key, limits.get(key, 0)), unit),
                                  _in_unit(limits.get(key, 0), unit))
        cpu_request, cpu_limit = requests.get("cpu", limits.get("cpu")), limits.get("cpu")
        if cpu_limit is not None and _quantity(cpu_request) == _quantity(cpu_limit) and \
                _quantity(cpu_limit) % 1 == 0 and _quantity(requests.get("memory", limits.get("memory"))) == \
                _quantity(limits.get("memory", -1)):
            need["exclusive_cpuset_cores"] += int(_quantity(cpu_limit))
    return need


def _times(need: dict, count: int) -> dict:
    return {name: value * count for name, value in need.items()}


def _add(into: dict, more: dict) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value


def planned_by_cluster(environment, *, exclude_resource_id=None) -> dict[str, dict]:
    """Cluster slug -> our limit names -> what the environment's federated resources plan there."""
    rows = (Propagation.objects.filter(resource__environment=environment, resource__deleting=False)
            .exclude(state__in=(State.REMOVING, State.REMOVED))
            .values_list("cluster__slug", "planned_replicas", "resource_id", "resource__template",
                         "resource__ftype__replicas_path"))
    planned: dict[str, dict] = {}
    needs: dict[int, dict] = {}
    for slug, replicas, resource_id, template, replicas_path in rows:
        if resource_id == exclude_resource_id:
            continue
        need = needs.setdefault(resource_id, per_pod_need(template))
        count = (replicas or 0) if replicas_path else 1
        _add(planned.setdefault(slug, {}), _times(need, count))
    return planned


# -- usage against limits, for pages ---------------------------------------------------------

@dataclass
class Bar:
    name: str
    label: str
    limit: int
    used: int | None  # None: not reported by the cluster (or platform-level)
    planned: int

    @property
    def committed(self) -> int:
        return max(self.used or 0, self.planned)

    @property
    def left(self) -> int:
        return max(self.limit - self.committed, 0)

    @property
    def percent(self) -> int:
        return 100 if self.limit <= 0 and self.committed else min(100, round(100 * self.committed / self.limit)) \
            if self.limit else 0

    @property
    def used_percent(self) -> int:
        return min(100, round(100 * (self.used or 0) / self.limit)) if self.limit else 0

    @property
    def planned_percent(self) -> int:
        return min(100, round(100 * self.planned / self.limit)) if self.limit else 0

    @property
    def wanted_percent(self) -> int:
        """The part of the bar planned but not (yet) used: pods refused by the quota, or not started."""
        return max(self.planned_percent - self.used_percent, 0)

    @property
    def level(self) -> str:
        return "danger" if self.committed > self.limit or self.percent >= 90 else \
            "warning" if self.percent >= 75 else "success"


@dataclass
class ClusterUsage:
    cluster: str
    observed_at: object
    bars: list = field(default_factory=list)


def labels() -> dict:
    return {"cpu_millicores": _("CPU"), "memory_mib": _("Memory"), "ephemeral_storage_mib": _("Ephemeral disk"),
            "pods": _("Pods"), "exclusive_cpuset_cores": _("Exclusive cores")}


def _quota(environment):
    # Read afresh: a quota changed since the environment was loaded must show its new limits.
    from tenants.models import Quota

    return Quota.objects.filter(environment_id=environment.pk).first()


def usage(environment) -> dict:
    """Per cluster holding the environment's namespace: a Bar per limit; plus the platform-level
    cpuset bar over the whole environment. {"clusters": [ClusterUsage], "platform": [Bar]}."""
    quota = _quota(environment)
    if quota is None:
        return {"clusters": [], "platform": []}
    names = labels()
    planned = planned_by_cluster(environment)
    members = {m.cluster.slug: m for m in MemberNamespace.objects.filter(environment=environment)
               .select_related("cluster").order_by("cluster__slug")}
    clusters = []
    for slug in sorted(set(members) | set(planned)):
        member = members.get(slug)
        used = used_of(member.quota_status) if member else {}
        wanted = planned.get(slug, {})
        clusters.append(ClusterUsage(slug, member.quota_observed_at if member else None, [
            Bar(name, names[name], getattr(quota, name), used.get(name), wanted.get(name, 0))
            for name in CLUSTER_LIMITS]))
    # Per cluster like the other limits (the CPU quota it is taken from is per cluster): the busiest one.
    cpuset = max((p.get("exclusive_cpuset_cores", 0) for p in planned.values()), default=0)
    platform = [Bar("exclusive_cpuset_cores", names["exclusive_cpuset_cores"], quota.exclusive_cpuset_cores,
                    None, cpuset)]
    return {"clusters": clusters, "platform": platform}


# -- what a change adds ----------------------------------------------------------------------

def _amount(name: str, value: int) -> str:
    if name == "pods":
        return ngettext("%(n)s more pod", "%(n)s more pods", value) % {"n": value}
    if name == "cpu_millicores":
        return _("%(n)s more millicores of CPU") % {"n": value}
    if name == "memory_mib":
        return _("%(n)s MiB more memory") % {"n": value}
    return _("%(n)s MiB more ephemeral disk") % {"n": value}


def _left(name: str, value: int) -> str:
    if name == "pods":
        return ngettext("%(n)s pod is left", "%(n)s pods are left", value) % {"n": value}
    if name == "cpu_millicores":
        return _("%(n)s millicores are left") % {"n": value}
    return _("%(n)s MiB are left") % {"n": value}


def impact(*, environment, template: dict, targets: dict, resource=None) -> dict:
    """What saving `template` placed as `targets` ({cluster slug: replicas or None}) adds per
    cluster, against what is left there. `resource`: the saved resource being changed (its
    current plan is replaced, not added to). JSON-ready:
    {"environment", "clusters": [{cluster, extra, left, limit, exceeds}], "exceeds", "messages"}."""
    quota = _quota(environment)
    need = per_pod_need(template)
    where = f"{environment.tenant.slug}/{environment.slug}"
    out = {"environment": where, "clusters": [], "exceeds": False, "messages": []}
    if quota is None or not need:
        return out
    exclude = resource.pk if resource is not None and resource.pk else None
    others = planned_by_cluster(environment, exclude_resource_id=exclude)
    mine = {}
    if exclude:
        for slug, replicas in resource.propagations.exclude(state__in=(State.REMOVING, State.REMOVED)) \
                .values_list("cluster__slug", "planned_replicas"):
            mine[slug] = _times(per_pod_need(resource.template), (replicas or 0) if resource.ftype.has_replicas else 1)
    used = {m.cluster.slug: used_of(m.quota_status) for m in
            MemberNamespace.objects.filter(environment=environment).select_related("cluster")}
    for slug in sorted(targets):
        count = targets[slug] if targets[slug] is not None else 1
        new = _times(need, count)
        current = mine.get(slug, {})
        extra = {name: new.get(name, 0) - current.get(name, 0) for name in CLUSTER_LIMITS}
        planned = {name: others.get(slug, {}).get(name, 0) + current.get(name, 0) for name in CLUSTER_LIMITS}
        limit = {name: getattr(quota, name) for name in CLUSTER_LIMITS}
        left = {name: max(limit[name] - max(planned[name], used.get(slug, {}).get(name, 0)), 0)
                for name in CLUSTER_LIMITS}
        exceeds = [name for name in CLUSTER_LIMITS if extra[name] > 0 and extra[name] > left[name]]
        messages = []
        out["clusters"].append({"cluster": slug, "extra": extra, "left": left, "limit": limit, "exceeds": exceeds,
                                "messages": messages})
        for name in exceeds:
            messages.append(_(
                "This change needs %(amount)s in cluster %(cluster)s; %(left)s in %(where)s (quota %(limit)s).")
                % {"amount": _amount(name, extra[name]), "cluster": slug, "left": _left(name, left[name]),
                   "where": where,
                   "limit": limit[name]})
        out["messages"] += messages
    out["exceeds"] = bool(out["messages"])
    return out


def impact_of_preview(*, resource, entries: list[dict], template=None) -> dict:
    """impact() for a preview's entries (their `replicas` are the plan's targets)."""
    targets = {e["cluster"]: e.get("replicas") for e in entries if e.get("action") not in ("delete", "absent")}
    if resource.deleting:
        targets = {}
    return impact(environment=resource.environment, template=resource.template if template is None else template,
                  targets=targets, resource=resource)


def with_quota(entries: list[dict], *, resource, template=None) -> list[dict]:
    """The preview's entries, each with its cluster's quota figures under "quota" (None where
    the change runs no pods there): the API's form of the page's warning."""
    found = {c["cluster"]: c for c in impact_of_preview(resource=resource, entries=entries,
                                                        template=template)["clusters"]}
    for entry in entries:
        figures = found.get(entry["cluster"])
        entry["quota"] = {k: v for k, v in figures.items() if k != "cluster"} if figures else None
    return entries
