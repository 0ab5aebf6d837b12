"""Per-cluster reconcile: make one member cluster hold what its dirty rows ask for.

For each due dirty Propagation of the cluster: render (render.py), and
- skip when the hash equals the one last applied (no API call at all);
- else server-side apply (field manager "paas-federation", force) and record it;
- for a cluster that left the placement (or a deleted resource): delete the object.
The environment's namespace (labels naming tenant and environment) and its
ResourceQuota (from tenants.Quota) are applied first, also only when changed.

Stop switches (global PlatformSwitch, per-cluster propagation_paused) make this a
no-op that leaves rows dirty. A cluster that does not answer gets its rows marked
with the error and a retry time (exponential backoff), and the run ends at once:
other clusters are synced by other tasks and never wait on it.
"""
import logging
import os
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from kubernetes.client import ApiException

from clusters import kube
from clusters.crypto import CredentialsUnreadable
from clusters.models import Cluster, PlatformSwitch

from . import kubeio, record, sensitive, status
from .models import FederatedResource, MemberNamespace, Propagation
from .render import (
    RenderError,
    content_hash,
    get_path,
    namespace_for,
    namespace_object,
    quota_object,
    render,
    stable_hash,
)

logger = logging.getLogger(__name__)
State = Propagation.State
BATCH = 5000
CONCURRENCY = 4  # calls in flight per cluster (settings.FEDERATION_SYNC_CONCURRENCY)
API_THREADS = 16  # threads for member-cluster calls per process (settings.FEDERATION_API_THREADS)
BACKOFF_BASE, BACKOFF_MAX = 2, 300  # seconds


@dataclass
class SyncReport:
    cluster: str
    skipped: str = ""
    applied: int = 0
    deleted: int = 0
    unchanged: int = 0
    errors: int = 0
    namespaces: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def recorded(self) -> bool:
        """Whether the run wrote outcomes (so totals may have changed)."""
        return bool(self.applied or self.deleted or self.unchanged or self.errors)


@dataclass
class Outcome:
    row: Propagation
    kind: str  # applied | unchanged | removed | error
    hash: str = ""
    resource_version: str = ""
    status: dict = field(default_factory=dict)
    error: str = ""
    at: float = 0.0  # wall-clock time the cluster answered


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX))


def is_paused(cluster: Cluster) -> bool:
    platform = getattr(cluster, "platform_paused", None)  # read with the cluster (cluster_with_switch)
    if platform is None:
        platform = PlatformSwitch.get().propagation_paused
    return cluster.propagation_paused or bool(platform)


def clusters_with_switch(cluster_ids) -> dict[int, Cluster]:
    """The clusters, with the global stop switch read in the same statement (a missing switch
    row reads as not stopped, as PlatformSwitch.get() would create it)."""
    switch = PlatformSwitch.objects.filter(pk=1).values("propagation_paused")[:1]
    return {c.pk: c for c in Cluster.objects.select_related("cell__zone__region").order_by()
            .annotate(platform_paused=Coalesce(Subquery(switch), Value(False))).filter(pk__in=list(cluster_ids))}


# Read back only to be written anew (record.persist sets them before writing): not loaded.
UNREAD_ROW_FIELDS = ("status", "status_updated_at", "synced_at", "observed_resource_version")


def due_rows(clusters, now, limit: int = BATCH) -> list[Propagation]:
    """Due dirty rows of these clusters (a Cluster, or several), oldest change first. Each
    resource is loaded once for all its rows (not once per cluster), without its total status."""
    ids = [clusters.pk] if isinstance(clusters, Cluster) else [c.pk for c in clusters]
    rows = list(Propagation.objects.filter(cluster_id__in=ids, dirty=True)
                .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
                .defer(*UNREAD_ROW_FIELDS).order_by("changed_at", "pk")[:limit])
    resources = {}
    wanted = sorted({row.resource_id for row in rows})
    for start in range(0, len(wanted), 500):
        resources.update((r.pk, r) for r in FederatedResource.objects.filter(pk__in=wanted[start:start + 500])
                         .select_related("ftype", "tenant", "environment__quota", "environment__tenant")
                         .defer("status").order_by())
    due = []
    for row in rows:
        if row.resource_id in resources:  # a resource deleted meanwhile takes its rows with it
            row.resource = resources[row.resource_id]
            due.append(row)
    return due


def is_removal(row: Propagation) -> bool:
    return row.resource.deleting or row.state in (State.REMOVING, State.REMOVED)


def desired_namespace(environment) -> tuple[str, list[dict], str]:
    """(name, [Namespace, ResourceQuota], hash) of an environment in any member cluster."""
    tenant = environment.tenant
    name = namespace_for(tenant.slug, environment.slug)
    objects = [namespace_object(name, tenant_slug=tenant.slug, env_slug=environment.slug)]
    quota = getattr(environment, "quota", None)
    if quota is not None:
        objects.append(quota_object(name, cpu_millicores=quota.cpu_millicores, memory_mib=quota.memory_mib,
                                    ephemeral_storage_mib=quota.ephemeral_storage_mib, pods=quota.pods))
    return name, objects, stable_hash(objects)


def _quota_newer(environment, member: MemberNamespace) -> bool:
    quota = getattr(environment, "quota", None)
    return member.synced_at is None or (quota is not None and member.synced_at < quota.updated_at)


def member_namespaces(cluster_ids) -> dict[int, list[MemberNamespace]]:
    """The member namespaces of these clusters, by cluster (one statement)."""
    found: dict[int, list] = {}
    for member in (MemberNamespace.objects.filter(cluster_id__in=list(cluster_ids)).order_by()
                   .select_related("environment__tenant", "environment__quota")):
        found.setdefault(member.cluster_id, []).append(member)
    return found


def status_of(obj: dict | None, fields: list[str], patterns=()) -> dict:
    if not obj:
        return {}
    return sensitive.mask_status({path: value for path in fields if (value := get_path(obj, path)) is not None},
                                 patterns)


def _secrets_of(job: "Job") -> set[str]:
    return sensitive.resource_values(job.row.resource, objects=[job.obj] if job.obj else [])


class ClusterSync:
    """One run over one cluster's due rows."""

    def __init__(self, cluster: Cluster, now, known_namespaces: dict | None = None):
        self.cluster, self.now = cluster, now
        self.known_namespaces = known_namespaces
        self.report = SyncReport(cluster.slug)
        self.outcomes: list[Outcome] = []
        self.client = None
        self.labels = cluster.topology_labels()
        self.namespace_failures: dict[int, str] = {}
        self.namespace_rows: list[tuple] = []
        self.lost_namespaces: set[int] = set()
        self.unreachable_message = ""
        self.concurrency = max(1, int(getattr(settings, "FEDERATION_SYNC_CONCURRENCY", CONCURRENCY)))
        self.checked_namespaces: list[int] = []
        self.stale: list[tuple] = []  # namespaces to apply before the objects

    # -- namespaces ---------------------------------------------------------------
    def stale_namespaces(self, environments: dict) -> list[tuple]:
        """Namespaces to apply: needed by due rows, or known here and due (quota changed, failed before)."""
        known = self.known_namespaces
        if known is None:
            known = {m.environment_id: m for m in member_namespaces([self.cluster.pk]).get(self.cluster.pk, ())}
        wanted = dict(environments)
        for pk, member in known.items():
            if member.next_attempt_at is None or member.next_attempt_at <= self.now:
                wanted.setdefault(pk, member.environment)
        stale = []
        for pk, environment in wanted.items():
            name, objects, digest = desired_namespace(environment)
            member = known.get(pk)
            if member is None or member.applied_hash != digest:
                stale.append((environment, name, objects, digest))
            elif _quota_newer(environment, member):  # compared now: no longer due for the quota change
                self.checked_namespaces.append(member.pk)
        return stale

    def ensure_namespaces(self, stale: list[tuple]) -> None:
        for environment, name, objects, digest in stale:
            error = ""
            try:
                for obj in objects:
                    path = (f"/api/v1/namespaces/{name}" if obj["kind"] == "Namespace"
                            else f"/api/v1/namespaces/{name}/resourcequotas/{obj['metadata']['name']}")
                    kubeio.apply(self.client, path, obj)
                self.report.namespaces += 1
            except ApiException as exc:
                error = kubeio.error_text(exc)
                self.namespace_failures[environment.pk] = f"namespace {name}: {error}"
            self.namespace_rows.append((environment, name, digest, error))

    # -- objects ------------------------------------------------------------------
    def prepare(self, row: Propagation):
        """An Outcome decided without the cluster, or a Job (one API call) to run."""
        resource, ftype = row.resource, row.resource.ftype
        namespace = namespace_for(resource.tenant.slug, resource.environment.slug) if ftype.namespaced else None
        path = ftype.object_path(resource.name, namespace)
        if is_removal(row):
            if row.state == State.REMOVED:
                return Outcome(row, "removed")
            return Job(row, "delete", path)
        if resource.environment_id in self.namespace_failures:
            return Outcome(row, "error", error=self.namespace_failures[resource.environment_id])
        try:
            obj = render(resource.template, namespace=namespace, planned_replicas=row.planned_replicas,
                         replicas_path=ftype.replicas_path, overrides=resource.overrides,
                         cluster_slug=self.cluster.slug, cluster_labels=self.labels, resource_id=resource.pk,
                         generation=resource.generation, tenant_slug=resource.tenant.slug,
                         env_slug=resource.environment.slug)
        except RenderError as exc:
            return Outcome(row, "error", error=sensitive.scrub(str(exc), sensitive.resource_values(resource)))
        digest = content_hash(obj)
        if digest == row.applied_hash and row.state == State.APPLIED:
            return Outcome(row, "unchanged", hash=digest)
        return Job(row, "apply", path, obj, digest)

    def execute(self, job: "Job") -> Outcome:
        """One call; a cluster found unreachable fails this and every later job without calling.
        An error text is stored and shown: a member cluster may quote the object it refuses, so
        sensitive values are scrubbed from it (and from the log line)."""
        outcome = self._execute(job)
        if outcome.kind == "error" and outcome.error:
            outcome.error = sensitive.scrub(outcome.error, _secrets_of(job))
        return outcome

    def _execute(self, job: "Job") -> Outcome:
        row = job.row
        if self.unreachable_message:
            return Outcome(row, "error", error=self.unreachable_message)
        try:
            if job.action == "delete":
                kubeio.delete(self.client, job.path)
                return Outcome(row, "removed", at=time.time())
            live = kubeio.apply(self.client, job.path, job.obj)
        except ApiException as exc:
            if exc.status == 404 and job.action == "apply" and row.resource.ftype.namespaced:
                self.lost_namespaces.add(row.resource.environment_id)  # create the namespace again next time
            return Outcome(row, "error", error=kubeio.error_text(exc))
        except (kubeio.ClusterUnreachable, CredentialsUnreadable) as exc:
            self.unreachable_message = f"cluster unreachable: {exc}"
            return Outcome(row, "error", error=self.unreachable_message)
        except Exception as exc:  # an unexpected answer must be recorded on its row, not abort the run
            logger.error("sync of %s: %s %s failed\n%s", self.cluster.slug, job.action, job.path,
                         sensitive.scrub("".join(traceback.format_exception(exc)), _secrets_of(job)))
            return Outcome(row, "error", error=f"{exc.__class__.__name__}: {str(exc)[:300]}")
        return Outcome(row, "applied", hash=job.digest, at=time.time(),
                       resource_version=(live or {}).get("metadata", {}).get("resourceVersion", ""),
                       status=status_of(live, row.resource.ftype.status_fields,
                                        sensitive.patterns_for(row.resource.ftype)))

    def plan(self, rows: list[Propagation]) -> list:
        """Decide what needs no call; return the calls to make as `concurrency` stripes, each
        run in order: a few calls in flight per cluster (the work waits on the API server)."""
        jobs = []
        for row in rows:
            prepared = self.prepare(row)
            (jobs if isinstance(prepared, Job) else self.outcomes).append(prepared)
        width = max(1, min(self.concurrency, len(jobs)))
        return [jobs[i::width] for i in range(width)] if jobs else []

    def run_stripe(self, stripe: list) -> None:
        self.outcomes.extend([self.execute(job) for job in stripe])

    def process(self, rows: list[Propagation]) -> None:
        run_on_pool([(self.run_stripe, stripe) for stripe in self.plan(rows)])

    def persist(self) -> None:
        record.persist(self)


def run_on_pool(calls: list[tuple]) -> None:
    """Run (function, argument) pairs on the shared pool and wait for all; one alone runs here."""
    if len(calls) == 1:
        function, argument = calls[0]
        function(argument)
        return
    for future in [api_pool().submit(function, argument) for function, argument in calls]:
        future.result()


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool_in_child() -> None:
    """A forked worker process has none of its parent's threads: it starts its own pool."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_in_child)


def api_pool() -> ThreadPoolExecutor:
    """The process's one pool for member-cluster calls (FEDERATION_API_THREADS threads), shared
    by every cluster sync instead of a pool per cluster per run."""
    global _pool
    with _pool_lock:
        if _pool is None:
            size = max(1, int(getattr(settings, "FEDERATION_API_THREADS", API_THREADS)))
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="federation-api")
        return _pool


@dataclass
class Job:
    row: Propagation
    action: str  # apply | delete
    path: str
    obj: dict | None = None
    digest: str = ""


def sync_cluster(cluster_id: int, *, now=None, batch: int = BATCH, aggregate: bool = True) -> SyncReport:
    """Sync one cluster's due rows (see sync_clusters)."""
    return sync_clusters([cluster_id], now=now, batch=batch, aggregate=aggregate)[0]


def sync_clusters(cluster_ids, *, now=None, batch: int = BATCH, aggregate: bool = True) -> list[SyncReport]:
    """Sync the due rows of several clusters (those of one cell, in the workers) at once:
    the reads and the record are a few statements for all of them, the calls run side by
    side on the shared pool. At most `batch` rows, oldest change first; the rest stay dirty
    for the next run. `aggregate`: recompute the totals of the resources touched right after
    (status.aggregate_pending); a caller that recomputes once for many runs passes False.
    Returns one report per id, in order."""
    ids = list(dict.fromkeys(cluster_ids))
    clusters = clusters_with_switch(ids)
    reports = {pk: SyncReport("", skipped="gone") for pk in ids if pk not in clusters}
    for pk, cluster in clusters.items():
        if is_paused(cluster):
            reports[pk] = SyncReport(cluster.slug, skipped="paused")
    active = [clusters[pk] for pk in ids if pk not in reports]
    now = now or timezone.now()
    runs = _prepare_runs(active, now, batch) if active else []
    for cluster in active:
        reports.setdefault(cluster.pk, SyncReport(cluster.slug))
    if runs:
        _call_clusters(runs)
        record.persist_many([run for run, _rows in runs])
        for run, _rows in runs:
            reports[run.cluster.pk] = run.report
    if aggregate and any(report.recorded for report in reports.values()):
        status.aggregate_pending()
    return [reports[pk] for pk in ids]


def _prepare_runs(clusters: list[Cluster], now, batch: int) -> list[tuple]:
    """(ClusterSync, rows) for each cluster with due rows or a namespace to apply."""
    rows_by_cluster: dict[int, list] = {}
    for row in due_rows(clusters, now, batch):
        rows_by_cluster.setdefault(row.cluster_id, []).append(row)
    namespaces = member_namespaces(c.pk for c in clusters)
    runs = []
    for cluster in clusters:
        rows = rows_by_cluster.get(cluster.pk, [])
        environments = {r.resource.environment_id: r.resource.environment for r in rows
                        if not is_removal(r) and r.resource.ftype.namespaced}
        run = ClusterSync(cluster, now, {m.environment_id: m for m in namespaces.get(cluster.pk, ())})
        run.stale = run.stale_namespaces(environments)
        if rows or run.stale:
            runs.append((run, rows))
    return runs


def _call_clusters(runs: list[tuple]) -> None:
    """Namespaces first (each cluster's in order), then every cluster's object calls, side by side."""
    run_on_pool([(_connect, run) for run, _rows in runs])
    calls = []
    for run, rows in runs:
        calls += [(run.run_stripe, stripe) for stripe in run.plan(rows)]
    if calls:
        run_on_pool(calls)
    for run, _rows in runs:
        if run.unreachable_message:
            logger.warning("sync of %s stopped: %s", run.cluster.slug, run.unreachable_message)


def _connect(run: "ClusterSync") -> None:
    """The cluster's client, and its namespaces (and quota) where they are missing or changed."""
    try:
        run.client = kube.api_client(run.cluster)
        run.ensure_namespaces(run.stale)
    except (kubeio.ClusterUnreachable, CredentialsUnreadable) as exc:
        run.unreachable_message = f"cluster unreachable: {exc}"
        done = {e.pk for e, *_rest in run.namespace_rows}
        run.namespace_rows += [(e, n, d, run.unreachable_message) for e, n, _objs, d in run.stale if e.pk not in done]
