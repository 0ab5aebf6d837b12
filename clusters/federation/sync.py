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
from .models import MemberNamespace, Propagation
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


def cluster_with_switch(cluster_id: int) -> Cluster | None:
    """The cluster, with the global stop switch read in the same statement (a missing switch
    row reads as not stopped, as PlatformSwitch.get() would create it)."""
    switch = PlatformSwitch.objects.filter(pk=1).values("propagation_paused")[:1]
    return (Cluster.objects.select_related("cell__zone__region")
            .annotate(platform_paused=Coalesce(Subquery(switch), Value(False)))
            .filter(pk=cluster_id).first())


def due_rows(cluster: Cluster, now):
    return (Propagation.objects.filter(cluster=cluster, dirty=True)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .select_related("resource__ftype", "resource__tenant", "resource__environment__quota",
                            "resource__environment__tenant")
            .order_by("changed_at", "pk"))


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


def status_of(obj: dict | None, fields: list[str], patterns=()) -> dict:
    if not obj:
        return {}
    return sensitive.mask_status({path: value for path in fields if (value := get_path(obj, path)) is not None},
                                 patterns)


def _secrets_of(job: "Job") -> set[str]:
    return sensitive.resource_values(job.row.resource, objects=[job.obj] if job.obj else [])


class ClusterSync:
    """One run over one cluster's due rows."""

    def __init__(self, cluster: Cluster, now):
        self.cluster, self.now = cluster, now
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

    # -- namespaces ---------------------------------------------------------------
    def stale_namespaces(self, environments: dict) -> list[tuple]:
        """Namespaces to apply: needed by due rows, or known here and due (quota changed, failed before)."""
        known = {m.environment_id: m for m in MemberNamespace.objects.filter(cluster=self.cluster)
                 .select_related("environment__tenant", "environment__quota")}
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

    def process(self, rows: list[Propagation]) -> None:
        jobs = []
        for row in rows:
            prepared = self.prepare(row)
            (jobs if isinstance(prepared, Job) else self.outcomes).append(prepared)
        if len(jobs) <= 1 or self.concurrency <= 1:
            self.outcomes.extend(self.execute(job) for job in jobs)
            return
        # A few calls in flight per cluster (the work waits on the API server, not the CPU):
        # `concurrency` stripes of jobs, each run in order on the process's shared pool, so
        # threads stay bounded however many clusters sync at once.
        stripes = [jobs[i::self.concurrency] for i in range(self.concurrency)]
        for outcomes in api_pool().map(lambda stripe: [self.execute(job) for job in stripe], stripes):
            self.outcomes.extend(outcomes)

    def persist(self) -> None:
        record.persist(self)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


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
    """Sync one cluster's due rows. `aggregate`: recompute the totals of the resources touched
    right after (status.aggregate_pending); a caller syncing many clusters at once passes False
    and recomputes once for all of them."""
    report = _sync_cluster(cluster_id, now=now, batch=batch)
    if aggregate and report.recorded:
        status.aggregate_pending()
    return report


def _sync_cluster(cluster_id: int, *, now=None, batch: int = BATCH) -> SyncReport:
    cluster = cluster_with_switch(cluster_id)
    if cluster is None:
        return SyncReport("", skipped="gone")
    if is_paused(cluster):
        return SyncReport(cluster.slug, skipped="paused")
    now = now or timezone.now()
    rows = list(due_rows(cluster, now)[:batch])
    environments = {r.resource.environment_id: r.resource.environment for r in rows
                    if not is_removal(r) and r.resource.ftype.namespaced}
    run = ClusterSync(cluster, now)
    stale = run.stale_namespaces(environments)
    if not rows and not stale:
        return run.report
    try:
        run.client = kube.api_client(cluster)
        run.ensure_namespaces(stale)
    except (kubeio.ClusterUnreachable, CredentialsUnreadable) as exc:
        run.unreachable_message = f"cluster unreachable: {exc}"
        done = {e.pk for e, *_rest in run.namespace_rows}
        run.namespace_rows += [(e, n, d, run.unreachable_message) for e, n, _objs, d in stale if e.pk not in done]
    run.process(rows)
    if run.unreachable_message:
        logger.warning("sync of %s stopped: %s", cluster.slug, run.unreachable_message)
    run.persist()
    return run.report
