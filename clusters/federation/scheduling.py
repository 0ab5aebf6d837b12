"""Turning placements into per-cluster rows, in the caller's transaction.

plan -> Propagation rows: a target cluster gets a row with the hash of what it
should hold (dirty when that differs from what was applied); a cluster that left
the placement gets its row marked "removing". Sync tasks are enqueued on commit,
so a worker never reads a plan that was rolled back.

hooks.py calls replan_all() after topology changes (cordon, failed cell/zone,
binding changes) and resume_propagation() when a stop switch is turned off.
"""
from django.db import transaction
from django.utils import timezone

from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone
from paas.audit.services import audit_record

from . import handoff
from .bulk import update_rows
from .models import FederatedResource, Handoff, Propagation
from .placement import ClusterInfo, Plan, plan
from .render import RenderError, content_hash, namespace_for, render
from .validation import Topology

State = Propagation.State
RENDER_FAILED = "render-failed"


def cluster_info(cluster: Cluster, *, bound: bool = True) -> ClusterInfo:
    return ClusterInfo(slug=cluster.slug, cell=cluster.cell.slug, zone=cluster.cell.zone.slug,
                       region=cluster.cell.zone.region.slug, labels=cluster.topology_labels(),
                       weight=cluster.weight, schedulable=cluster.schedulable, bound=bound, pk=cluster.pk)


class TopologySnapshot:
    """Clusters and bindings read once, then used for many environments (replan_all)."""

    def __init__(self):
        self.clusters = list(Cluster.objects.select_related("cell__zone__region").defer("credentials"))
        self.cells = set(Cell.objects.values_list("slug", flat=True))
        self.zones = set(Zone.objects.values_list("slug", flat=True))
        self.regions = set(Region.objects.values_list("slug", flat=True))
        self.bindings: dict[int, tuple[set, set]] = {}
        for env_id, cell_id, cluster_id in EnvironmentBinding.objects.values_list("environment", "cell", "cluster"):
            cells, clusters = self.bindings.setdefault(env_id, (set(), set()))
            (cells.add(cell_id) if cell_id else clusters.add(cluster_id))
        self.by_slug = {c.slug: c for c in self.clusters}

    def for_environment(self, environment) -> Topology:
        cells, clusters = self.bindings.get(environment.pk, (set(), set()))
        infos = [cluster_info(c, bound=c.cell_id in cells or c.pk in clusters) for c in self.clusters]
        return Topology(clusters=infos, environment=str(environment), cells=self.cells, zones=self.zones,
                        regions=self.regions)


def topology_for(environment) -> Topology:
    return TopologySnapshot().for_environment(environment)


def template_replicas(resource_or_ftype, template: dict) -> int | None:
    ftype = getattr(resource_or_ftype, "ftype", resource_or_ftype)
    if not ftype.has_replicas:
        return None
    value = template
    for part in ftype.replicas_path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, int) else 1


def plan_for(ftype, template: dict, placement: dict, topology: Topology) -> Plan:
    return plan(placement, topology.clusters, template_replicas=template_replicas(ftype, template),
                has_replicas=ftype.has_replicas)


def desired_hash(resource: FederatedResource, info: ClusterInfo, replicas) -> str:
    """Hash of what the cluster should hold; the same render sync will do."""
    env = resource.environment
    try:
        obj = render(resource.template, namespace=namespace_for(resource.tenant.slug, env.slug)
                     if resource.ftype.namespaced else None, planned_replicas=replicas,
                     replicas_path=resource.ftype.replicas_path, overrides=resource.overrides,
                     cluster_slug=info.slug, cluster_labels=info.labels, resource_id=resource.pk,
                     generation=resource.generation, tenant_slug=resource.tenant.slug, env_slug=env.slug)
    except RenderError:
        return RENDER_FAILED
    return content_hash(obj)


def apply_plan(resource: FederatedResource, result: Plan, topology: Topology, *, now=None,
               unreachable: set[int] | None = None, pending: set[int] | None = None, reason: str = "") -> set[int]:
    """Bring the resource's Propagation rows in line with the plan; return the ids of
    clusters that now have work to do. Replicas that move between clusters move
    make-before-break (handoff.py): the rows that lose replicas are held as they are
    until the rows that gain them report ready, except on unreachable clusters."""
    now = now or timezone.now()
    rows = {p.cluster_id: p for p in resource.propagations.all()}
    targets = {} if resource.deleting else result.targets
    infos = {c.slug: c for c in topology.clusters}
    if unreachable is None:
        unreachable = handoff.unreachable_clusters()
    if pending is None:
        pending = pending_handoffs([resource.pk])
    moving = resource.pk in pending
    held, waiting = handoff.decide(resource, rows, {infos[s].pk: n for s, n in targets.items()}, unreachable,
                                   pending=moving)
    touched, changed, created = set(), [], []
    for slug, replicas in targets.items():
        info = infos[slug]
        if info.pk in held:
            continue  # keeps running what it runs until the new replicas elsewhere are ready
        wanted = desired_hash(resource, info, replicas)
        row = rows.get(info.pk)
        if row is None:
            created.append(Propagation(resource=resource, cluster_id=info.pk, planned_replicas=replicas,
                                       desired_hash=wanted, dirty=True, state=State.PENDING, changed_at=now))
            touched.add(info.pk)
            continue
        if row.desired_hash == wanted and row.planned_replicas == replicas \
                and row.state not in (State.REMOVING, State.REMOVED):
            if row.state == State.APPLIED and not row.dirty and row.applied_generation != resource.generation:
                row.applied_generation = resource.generation  # the cluster already holds this generation
                changed.append(row)
            continue  # nothing new for this cluster (pending work, if any, stays pending)
        in_sync = row.state == State.APPLIED and row.applied_hash == wanted
        row.planned_replicas, row.desired_hash = replicas, wanted
        row.dirty = not in_sync
        if in_sync:
            row.applied_generation = resource.generation
        row.state = State.APPLIED if in_sync else State.PENDING
        row.changed_at, row.attempts, row.next_attempt_at = now, 0, None
        changed.append(row)
        if row.dirty:
            touched.add(info.pk)
    target_pks = {infos[slug].pk for slug in targets}
    for cluster_id, row in rows.items():
        if cluster_id in target_pks or cluster_id in held or row.state in (State.REMOVING, State.REMOVED):
            continue
        row.state, row.dirty, row.changed_at, row.attempts, row.next_attempt_at = \
            State.REMOVING, True, now, 0, None
        row.planned_replicas = None
        changed.append(row)
        touched.add(cluster_id)
    if created:
        Propagation.objects.bulk_create(created)
    if held or moving:
        handoff.record(resource, held, waiting, reason)
    if changed:
        update_rows(Propagation, changed, ["planned_replicas", "desired_hash", "dirty", "state", "changed_at",
                                           "attempts", "next_attempt_at", "applied_generation"])
    unplaced = result.unplaced if not resource.deleting else 0
    if resource.status.get("unplaced", 0) != unplaced:
        resource.status = {**resource.status, "unplaced": unplaced}
        FederatedResource.objects.filter(pk=resource.pk).update(status=resource.status)
    return touched


def pending_handoffs(resource_ids=None) -> set[int]:
    """Resources (of these, or all) with a make-before-break move in progress."""
    handoffs = Handoff.objects.all() if resource_ids is None else Handoff.objects.filter(resource_id__in=resource_ids)
    return set(handoffs.values_list("resource_id", flat=True))


def replan(resource: FederatedResource, topology: Topology | None = None, *, unreachable: set[int] | None = None,
           pending: set[int] | None = None, reason: str = "") -> set[int]:
    topology = topology or topology_for(resource.environment)
    return apply_plan(resource, plan_for(resource.ftype, resource.template, resource.placement, topology), topology,
                      unreachable=unreachable, pending=pending, reason=reason)


def enqueue_sync(cluster_ids) -> None:
    """Sync the given clusters once the current transaction commits: one run per cell on the
    cell's queue, covering every due cluster of the cell."""
    ids = sorted(set(cluster_ids))
    if not ids:
        return

    def send():
        from .tasks import enqueue_cells

        # A broker outage must not turn the committed change into an error: the rows
        # are dirty in the database and the beat tick enqueues them once it is back.
        enqueue_cells(Cluster.objects.filter(pk__in=ids))

    transaction.on_commit(send)


def replan_all(*, actor, reason: str) -> int:
    """Re-plan every federated resource after a topology change; returns rows changed."""
    snapshot = TopologySnapshot()
    touched: set[int] = set()
    resources = (FederatedResource.objects.filter(deleting=False)
                 .select_related("ftype", "environment", "tenant").prefetch_related("propagations"))
    with transaction.atomic():
        per_env: dict[int, Topology] = {}
        unreachable, pending = handoff.unreachable_clusters(), pending_handoffs()
        for resource in resources:
            topology = per_env.get(resource.environment_id)
            if topology is None:
                topology = per_env[resource.environment_id] = snapshot.for_environment(resource.environment)
            touched |= replan(resource, topology, unreachable=unreachable, pending=pending, reason=reason)
        if touched:
            audit_record(actor=actor, action="federation.replan", target=("federation.federatedresource", "", "all"),
                         after={"reason": reason, "clusters": sorted(snapshot_slugs(snapshot, touched))})
        enqueue_sync(touched)
    return len(touched)


def snapshot_slugs(snapshot: TopologySnapshot, cluster_ids: set[int]) -> list[str]:
    return [c.slug for c in snapshot.clusters if c.pk in cluster_ids]


def resume_propagation(*, actor, cluster=None) -> None:
    """A stop switch was turned off: rows stayed dirty while it was on, so syncing converges."""
    dirty = Propagation.objects.filter(dirty=True)
    if cluster is not None:
        dirty = dirty.filter(cluster=cluster)
    enqueue_sync(dirty.values_list("cluster_id", flat=True).distinct())
