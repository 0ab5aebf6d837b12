"""What marking a cell or zone failed (or recovered) would move, computed before doing it.

The same planner as the real re-plan runs on the topology with the flag flipped in
memory; nothing is written. For each federated resource whose replicas would change:
from which clusters to which (replica counts), whether the move is make-before-break
(the source still answers) or break-before-make (an unreachable source: its replicas
are lost whatever we do), whether the target clusters have room and whether the
environment's quota allows the surge while both sides run.
"""
import re
from dataclasses import asdict, dataclass, field

from django.utils.translation import gettext as _

from clusters.models import Cell, Cluster, Zone

from .models import FederatedResource, Propagation
from .placement import plan
from .scheduling import TopologySnapshot, template_replicas

State = Propagation.State
PODS_PER_NODE = 110  # kubelet's default pod limit: the only capacity figure every cluster shares
# make-before-break: the new side is ready before the old one goes; break-before-make: an
# unreachable source loses its replicas at once; removal: nothing takes over (e.g. a
# Duplicated placement just loses clusters); immediate: kinds without replicas.
MAKE_BEFORE_BREAK, BREAK_BEFORE_MAKE, REMOVAL, IMMEDIATE = ("make-before-break", "break-before-make", "removal",
                                                            "immediate")


@dataclass
class Move:
    resource_id: int
    resource: str
    tenant: str
    environment: str
    url: str
    before: dict[str, int]
    after: dict[str, int]
    mode: str
    unreachable: list[str] = field(default_factory=list)

    @property
    def sources(self) -> dict[str, int]:
        return {s: n for s, n in self.before.items() if self.after.get(s, 0) < n}

    @property
    def targets(self) -> dict[str, int]:
        return {s: n for s, n in self.after.items() if n > self.before.get(s, 0)}


def _quantity(value, unit: str) -> int:
    """A Kubernetes quantity as millicores (unit "m") or MiB (unit "Mi"); 0 when unreadable."""
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(value or "").strip())
    if not match:
        return 0
    number, suffix = float(match.group(1)), match.group(2)
    if unit == "m":
        return int(number if suffix == "m" else number * 1000)
    factors = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 ** 2, "K": 1e3 / 2 ** 20, "M": 1e6 / 2 ** 20,
               "G": 1e9 / 2 ** 20, "": 1 / 2 ** 20}
    return int(number * factors.get(suffix, 0))


def pod_requests(template: dict) -> tuple[int, int]:
    """(CPU millicores, memory MiB) one pod of a workload template requests."""
    spec = (((template.get("spec") or {}).get("template") or {}).get("spec") or {})
    cpu = memory = 0
    for container in spec.get("containers") or ():
        requests = ((container or {}).get("resources") or {}).get("requests") or {}
        cpu += _quantity(requests.get("cpu"), "m")
        memory += _quantity(requests.get("memory"), "Mi")
    return cpu, memory


def _snapshot_with(obj, failed: bool) -> TopologySnapshot:
    snapshot = TopologySnapshot()
    for cluster in snapshot.clusters:
        if isinstance(obj, Cell) and cluster.cell_id == obj.pk:
            cluster.cell.failed = failed
        elif isinstance(obj, Zone) and cluster.cell.zone_id == obj.pk:
            cluster.cell.zone.failed = failed
    return snapshot


def _current(resource: FederatedResource) -> dict[str, int]:
    return {row.cluster.slug: row.planned_replicas or 0 for row in resource.propagations.all()
            if row.state not in (State.REMOVING, State.REMOVED)}


def moves_for(obj, failed: bool) -> tuple[list[Move], dict[str, Cluster]]:
    snapshot = _snapshot_with(obj, failed)
    unreachable = {c.slug for c in snapshot.clusters if c.health == Cluster.Health.UNREACHABLE}
    resources = (FederatedResource.objects.filter(deleting=False)
                 .select_related("ftype", "environment", "tenant")
                 .prefetch_related("propagations__cluster"))
    moves, per_env = [], {}
    for resource in resources:
        topology = per_env.get(resource.environment_id)
        if topology is None:
            topology = per_env[resource.environment_id] = snapshot.for_environment(resource.environment)
        ftype = resource.ftype
        result = plan(resource.placement, topology.clusters, template_replicas=template_replicas(ftype,
                      resource.template), has_replicas=ftype.has_replicas)
        before = _current(resource)
        after = {slug: (n or 0) for slug, n in result.targets.items()}
        if before == after:
            continue
        sources = [s for s, n in before.items() if after.get(s, 0) < n or s not in after]
        grows = any(n > before.get(s, 0) for s, n in after.items())
        lost = sorted(s for s in sources if s in unreachable)
        mode = (IMMEDIATE if not ftype.has_replicas else REMOVAL if not grows else BREAK_BEFORE_MAKE if lost
                else MAKE_BEFORE_BREAK)
        moves.append(Move(resource.pk, str(resource), resource.tenant.slug, resource.environment.slug,
                          resource.get_absolute_url(), before, after, mode, lost))
    return moves, snapshot.by_slug


def _quota_checks(moves: list[Move]) -> list[dict]:
    """Per environment and target cluster: pods, CPU and memory while both sides run, against
    the environment's quota (applied as a ResourceQuota in each member namespace)."""
    envs: dict[tuple, dict] = {}
    resources = {r.pk: r for r in FederatedResource.objects.filter(pk__in=[m.resource_id for m in moves])
                 .select_related("environment__quota", "tenant", "ftype")}
    for move in moves:
        resource = resources[move.resource_id]
        cpu, memory = pod_requests(resource.template)
        for slug in move.targets:
            key = (resource.environment_id, slug)
            entry = envs.setdefault(key, {"tenant": move.tenant, "environment": move.environment, "cluster": slug,
                                          "pods": 0, "cpu_millicores": 0, "memory_mib": 0, "resource": resource})
            # The surge: on a target cluster, the larger of what it runs now and what it will run.
            pods = max(move.after.get(slug, 0), move.before.get(slug, 0))
            entry["pods"] += pods
            entry["cpu_millicores"] += pods * cpu
            entry["memory_mib"] += pods * memory
    # Other resources of the environment already running on that cluster count too.
    moving = {m.resource_id for m in moves}
    for (env_id, slug), entry in envs.items():
        for other in (FederatedResource.objects.filter(environment_id=env_id, deleting=False)
                      .exclude(pk__in=moving).prefetch_related("propagations__cluster")):
            pods = _current(other).get(slug, 0)
            cpu, memory = pod_requests(other.template)
            entry["pods"] += pods
            entry["cpu_millicores"] += pods * cpu
            entry["memory_mib"] += pods * memory
    checks = []
    for entry in envs.values():
        quota = getattr(entry.pop("resource").environment, "quota", None)
        problems = []
        if quota is not None:
            for key, label in (("pods", _("pods")), ("cpu_millicores", _("CPU millicores")),
                               ("memory_mib", _("MiB of memory"))):
                limit = getattr(quota, key)
                if entry[key] > limit:
                    problems.append(_("needs %(need)s %(what)s, the quota allows %(limit)s")
                                    % {"need": entry[key], "what": label, "limit": limit})
        checks.append({**entry, "quota_pods": quota.pods if quota else None, "ok": not problems,
                       "problems": problems})
    return sorted(checks, key=lambda c: (c["tenant"], c["environment"], c["cluster"]))


def _capacity_checks(moves: list[Move], clusters: dict[str, Cluster]) -> list[dict]:
    added: dict[str, int] = {}
    for move in moves:
        for slug, n in move.targets.items():
            added[slug] = added.get(slug, 0) + n - move.before.get(slug, 0)
    checks = []
    for slug, extra in sorted(added.items()):
        cluster = clusters.get(slug)
        nodes, pods = (cluster.node_count, cluster.pod_count) if cluster else (None, None)
        room = nodes * PODS_PER_NODE - (pods or 0) if nodes else None
        reachable = cluster is not None and cluster.health != Cluster.Health.UNREACHABLE
        checks.append({"cluster": slug, "added_pods": extra, "nodes": nodes, "pods": pods, "room": room,
                       "reachable": reachable, "ok": reachable and (room is None or room >= extra)})
    return checks


def _sides(move: Move, slugs) -> list[dict]:
    return [{"cluster": s, "before": move.before.get(s, 0), "after": move.after.get(s, 0)} for s in sorted(slugs)]


def preview(obj, *, failed: bool) -> dict:
    """The impact of marking a cell or zone failed (failed=True) or recovered, as plain data."""
    moves, clusters = moves_for(obj, failed)
    data = {
        "kind": "cell" if isinstance(obj, Cell) else "zone", "slug": obj.slug, "failed": failed,
        "moves": [{**asdict(m), "from": _sides(m, m.sources), "to": _sides(m, m.targets)} for m in moves],
        "capacity": _capacity_checks(moves, clusters),
        "quotas": _quota_checks(moves),
    }
    data["break_before_make"] = any(m.mode == BREAK_BEFORE_MAKE for m in moves)
    data["replicas_lost"] = any(m.mode == REMOVAL for m in moves)
    data["ok"] = all(c["ok"] for c in data["capacity"]) and all(q["ok"] for q in data["quotas"])
    return data
