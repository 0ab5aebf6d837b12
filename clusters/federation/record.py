"""Recording what one sync run did, in one transaction with a few bulk statements.

The rows are re-read under lock first: a row that a user change made dirty again
while its old version was being applied keeps its new desired hash and stays
dirty (only the "applied" facts are written), so no change is ever lost.
"""
from django.db import transaction

from paas import locks

from . import metrics, status
from .bulk import update_rows
from .models import FederatedResource, MemberNamespace, Propagation

State = Propagation.State
CHUNK = 500

APPLIED = ["applied_hash", "applied_generation", "synced_at", "error", "attempts", "next_attempt_at", "status",
           "observed_resource_version", "status_updated_at"]
APPLIED_CURRENT = [*APPLIED, "dirty", "state", "desired_hash"]
UNCHANGED = ["dirty", "error", "attempts", "next_attempt_at", "applied_generation"]
REMOVED = ["applied_hash", "applied_generation", "observed_resource_version", "status", "synced_at", "error",
           "attempts", "next_attempt_at"]
REMOVED_CURRENT = [*REMOVED, "state", "dirty"]
FAILED = ["state", "error", "attempts", "next_attempt_at"]


def _current(ids: list[int]) -> dict[int, tuple]:
    """The rows' current desired hash, state and dirty flag, locked. Only the rows themselves
    (of="self", no ordering join): the model's default ordering joins the cluster, and FOR UPDATE
    on a join locks the cluster rows too, which deadlocked a run against a user's change inserting
    rows for the same clusters (PostgreSQL). In primary-key order, so two lockers queue, never cross."""
    found = {}
    ids = sorted(ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        found.update({pk: (desired, state, dirty) for pk, desired, state, dirty in Propagation.objects
                      .select_for_update(of=("self",)).filter(pk__in=chunk).order_by("pk")
                      .values_list("pk", "desired_hash", "state", "dirty")})
    return found


def _namespaces(run) -> None:
    # Each statement only when there is something to write: a run over a cluster whose
    # namespaces are all in place costs no namespace statement at all.
    if run.checked_namespaces:
        MemberNamespace.objects.filter(pk__in=run.checked_namespaces).update(synced_at=run.now)
    if run.lost_namespaces:
        MemberNamespace.objects.filter(cluster=run.cluster, environment_id__in=run.lost_namespaces).update(
            applied_hash="")
    if not run.namespace_rows:
        return
    known = {m.environment_id: m for m in MemberNamespace.objects.filter(cluster=run.cluster)}
    for environment, name, digest, error in run.namespace_rows:
        member = known.get(environment.pk) or MemberNamespace(cluster=run.cluster, environment=environment)
        attempts = member.attempts + 1 if error else 0
        member.name, member.error, member.synced_at, member.attempts = name, error, run.now, attempts
        member.applied_hash = "" if error else digest
        member.next_attempt_at = run.now + _backoff(attempts) if error else None
        member.save()


def _backoff(attempts):
    from .sync import backoff

    return backoff(attempts)


def persist(run) -> None:
    """Write the outcomes of `run` (a sync.ClusterSync)."""
    persist_many([run])


def persist_many(runs) -> None:
    """Write the outcomes of several runs (one per cluster) in one transaction: the
    statements cost the same for one cluster or for all the clusters a change touches."""
    groups: dict[str, list] = {k: [] for k in ("applied", "applied_stale", "unchanged", "removed",
                                               "removed_current", "failed")}
    drop, touched = [], {}
    outcomes = [(run, o) for run in runs for o in run.outcomes]
    with locks.write_turn(), transaction.atomic():
        for run in runs:
            _namespaces(run)
        current = _current([o.row.pk for _run, o in outcomes])
        for run, o in outcomes:
            now, report = run.now, run.report
            row = o.row
            if row.pk not in current:
                continue  # deleted meanwhile
            desired, state, dirty = current[row.pk]
            same = desired == row.desired_hash
            touched[row.resource_id] = row.resource
            if o.kind == "applied":
                row.applied_hash, row.applied_generation, row.synced_at = o.hash, row.resource.generation, now
                row.error, row.attempts, row.next_attempt_at = "", 0, None
                row.status, row.observed_resource_version, row.status_updated_at = o.status, o.resource_version, now
                if same and dirty:
                    row.dirty, row.state, row.desired_hash = False, State.APPLIED, o.hash
                    groups["applied"].append(row)
                else:  # changed again while we applied: keep it dirty for the next run
                    groups["applied_stale"].append(row)
                report.applied += 1
                metrics.WRITES.labels("apply").inc()
                if row.changed_at:
                    metrics.LATENCY.observe(max(o.at - row.changed_at.timestamp(), 0.0))
            elif o.kind == "unchanged":
                report.unchanged += 1
                metrics.SKIPPED.inc()
                if same:
                    row.dirty, row.error, row.attempts, row.next_attempt_at = False, "", 0, None
                    row.applied_generation = row.resource.generation
                    groups["unchanged"].append(row)
            elif o.kind == "removed":
                if o.at:
                    report.deleted += 1
                    metrics.WRITES.labels("delete").inc()
                if row.resource.deleting:
                    drop.append(row.pk)
                    continue
                row.applied_hash, row.applied_generation, row.observed_resource_version = "", None, ""
                row.status, row.synced_at, row.error, row.attempts, row.next_attempt_at = {}, now, "", 0, None
                if state in (State.REMOVING, State.REMOVED):
                    row.state, row.dirty = State.REMOVED, False
                    groups["removed_current"].append(row)
                else:  # placed again meanwhile: it must be applied anew
                    groups["removed"].append(row)
            else:
                report.errors += 1
                removal = row.resource.deleting or row.state in (State.REMOVING, State.REMOVED)
                metrics.ERRORS.labels("delete" if removal else "apply").inc()
                metrics.RETRIES.inc()
                if same and state == row.state:
                    row.state = State.REMOVING if removal else State.ERROR
                    row.error, row.attempts = o.error, row.attempts + 1
                    row.next_attempt_at = now + _backoff(row.attempts)
                    groups["failed"].append(row)
        fields = {"applied": APPLIED_CURRENT, "applied_stale": APPLIED, "unchanged": UNCHANGED,
                  "removed": REMOVED, "removed_current": REMOVED_CURRENT, "failed": FAILED}
        for name, rows in groups.items():
            if rows:
                update_rows(Propagation, rows, fields[name])
        for start in range(0, len(drop), CHUNK):
            Propagation.objects.filter(pk__in=drop[start:start + CHUNK]).delete()
        purge = []
        if deleting := [pk for pk, r in touched.items() if r.deleting]:
            alive = set(Propagation.objects.filter(resource_id__in=deleting).values_list("resource_id", flat=True))
            purge = [pk for pk in deleting if pk not in alive]
            FederatedResource.objects.filter(pk__in=purge).delete()
        # The totals are recomputed after this commit, once per resource for all the clusters
        # that recorded meanwhile (status.aggregate_pending), not here under the write lock.
        status.queue_aggregation(pk for pk in touched if pk not in purge)
