"""State changes the executor makes, each in one transaction under the release's row lock:
the lease token is compared first (fencing: a holder that lost its lease writes nothing), then
the rows change, a numbered ReleaseEvent is recorded (releases.events.record) and, for the
transitions of the release and of its steps, an audit event as the system actor. Progress
observations (pod.state, step.progress, traffic.sample) are events only: they are not changes
anyone made, and a 1,000-pod release would otherwise write thousands of audit rows.
"""
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.audit.services import audit_record

from .. import events
from ..models import PodProgress, Release, ReleaseStep, StepTarget

SYSTEM = Actor.for_system("release-executor")


class LeaseLost(Exception):
    """Another worker holds the release now: stop without writing anything."""


@dataclass(frozen=True)
class Fence:
    release_id: int
    token: int


@contextmanager
def locked(fence: Fence):
    """The release row, locked, inside a transaction, if our lease token still holds."""
    with transaction.atomic():
        release = (Release.objects.select_for_update(of=("self",))
                   .select_related("tenant", "environment", "instance__application", "baseline", "target")
                   .filter(pk=fence.release_id).first())
        if release is None or release.lease_token != fence.token:
            raise LeaseLost(f"release {fence.release_id}: lease {fence.token} lost")
        yield release


def _audit(release: Release, kind: str, reason: str = "", **extra) -> None:
    audit_record(actor=SYSTEM, action=kind, target=release, tenant=release.tenant,
                 after={**release.audit_fields(), **extra}, reason=reason[:500])


def _event(release, kind, message, data, *, audit=True, reason=""):
    events.record(release, kind, message, actor=SYSTEM, data=data)
    if audit:
        _audit(release, kind, reason, **{k: v for k, v in data.items() if k in ("step", "name", "gate", "value")})


# --- the release --------------------------------------------------------------------

def set_state(fence: Fence, state: str, kind: str, message: str, *, reason: str = "", data=None,
              finished: bool = False) -> Release:
    with locked(fence) as release:
        release.state = state
        fields = ["state", "updated_at"]
        if reason or state in (Release.State.RUNNING,):
            release.reason = reason
            fields.append("reason")
        if state == Release.State.PAUSED:
            release.pause_requested = False
            fields.append("pause_requested")
        if finished:
            release.finished_at = timezone.now()
            fields.append("finished_at")
        release.save(update_fields=fields)
        payload = {"state": state, "step": release.current_step, **(data or {})}
        if reason:
            payload["reason"] = reason
        _event(release, kind, message, payload, reason=reason)
        return release


def started(fence: Fence) -> Release:
    """The executor's first action was done (objects rendered, workloads held): record it once."""
    with locked(fence) as release:
        fields = ["updated_at"]
        if release.started_at is None:
            release.started_at = timezone.now()
            fields.append("started_at")
        release.save(update_fields=fields)
        instance = release.instance
        if instance.state != instance.State.RELEASING or instance.target_id != release.target_id:
            instance.state, instance.target = instance.State.RELEASING, release.target
            instance.save(update_fields=["state", "target", "updated_at"])
        return release


def instance_final(release: Release, *, baseline) -> None:
    instance = release.instance
    before = instance.audit_fields()
    instance.baseline, instance.target = baseline, None
    instance.state, instance.applied_at = instance.State.DEPLOYED, timezone.now()
    instance.save(update_fields=["baseline", "target", "state", "applied_at", "updated_at"])
    audit_record(actor=SYSTEM, action="app.instance.release", target=instance, tenant=release.tenant,
                 before=before, after=instance.audit_fields())


def succeeded(fence: Fence, finalize=None) -> Release:
    """`finalize(release)`: the instance's objects as the target renders them, in the same transaction."""
    with locked(fence) as release:
        if finalize is not None:
            finalize(release)
        instance_final(release, baseline=release.target)
        release.state, release.finished_at, release.reason = Release.State.SUCCEEDED, timezone.now(), ""
        release.save(update_fields=["state", "finished_at", "reason", "updated_at"])
        _event(release, "release.succeeded",
               _("Release succeeded: revision %(n)s is the baseline.") % {"n": release.target.number},
               {"state": release.state, "step": release.current_step})
        return release


def rollback_started(fence: Fence, reason: str) -> Release:
    with locked(fence) as release:
        release.state, release.reason = Release.State.ROLLING_BACK, reason
        release.finished_at = None
        release.save(update_fields=["state", "reason", "finished_at", "updated_at"])
        _event(release, "release.rollback_started", _("Rolling back to revision %(n)s: %(reason)s")
               % {"n": release.baseline.number, "reason": reason},
               {"state": release.state, "step": release.current_step, "reason": reason}, reason=reason)
        return release


def rolled_back(fence: Fence, finalize=None) -> Release:
    with locked(fence) as release:
        if finalize is not None:
            finalize(release)
        instance_final(release, baseline=release.baseline)
        release.state, release.finished_at = Release.State.ROLLED_BACK, timezone.now()
        release.rollback_requested = False
        release.save(update_fields=["state", "finished_at", "rollback_requested", "updated_at"])
        ReleaseStep.objects.filter(release=release, state__in=[ReleaseStep.State.PENDING, ReleaseStep.State.WAITING,
                                                               ReleaseStep.State.RUNNING]).update(
            state=ReleaseStep.State.CANCELLED, finished_at=timezone.now())
        _event(release, "release.rolled_back", _("Rolled back: every pod runs revision %(n)s.")
               % {"n": release.baseline.number},
               {"state": release.state, "step": release.current_step, "reason": release.reason})
        return release


# --- steps --------------------------------------------------------------------------

def step_started(fence: Fence, step_id: int) -> ReleaseStep:
    with locked(fence) as release:
        step = ReleaseStep.objects.select_for_update().get(pk=step_id, release=release)
        now = timezone.now()
        if release.current_step != step.index:
            release.current_step = step.index
            release.save(update_fields=["current_step", "updated_at"])
        if step.state != ReleaseStep.State.RUNNING:
            step.state, step.error = ReleaseStep.State.RUNNING, ""
            step.started_at = step.started_at or now
            step.finished_at = None
            step.save(update_fields=["state", "error", "started_at", "finished_at"])
            step.targets.exclude(state=StepTarget.State.SUCCEEDED).update(state=StepTarget.State.RUNNING,
                                                                          error="", started_at=now)
            _event(release, "step.started", _("Step %(i)s started: %(name)s") % {"i": step.index + 1, "name": step.name},
                   {"step": step.index, "name": step.name})
        return step


def step_waiting(fence: Fence, step_id: int, reason: str = "") -> None:
    with locked(fence) as release:
        step = ReleaseStep.objects.select_for_update().get(pk=step_id, release=release)
        step.state = ReleaseStep.State.WAITING
        step.save(update_fields=["state"])
        release.state, release.current_step, release.reason = Release.State.WAITING, step.index, reason
        release.save(update_fields=["state", "current_step", "reason", "updated_at"])
        message = (_("Waiting: %(reason)s") % {"reason": reason} if reason else
                   _("Step %(i)s (%(name)s) waits for confirmation.") % {"i": step.index + 1, "name": step.name})
        data = {"state": release.state, "step": step.index}
        if reason:
            data["reason"] = reason
        _event(release, "release.waiting", message, data, reason=reason)


def step_verifying(fence: Fence, step_id: int) -> None:
    with locked(fence) as release:
        step = ReleaseStep.objects.select_for_update().get(pk=step_id, release=release)
        if step.state == ReleaseStep.State.VERIFYING:
            return
        step.state = ReleaseStep.State.VERIFYING
        step.save(update_fields=["state"])
        _event(release, "step.verifying", _("Step %(i)s: checking gates") % {"i": step.index + 1},
               {"step": step.index, "name": step.name}, audit=False)


def gate_result(fence: Fence, step_id: int, result: dict) -> None:
    with locked(fence) as release:
        step = ReleaseStep.objects.select_for_update().get(pk=step_id, release=release)
        step.gate_results = [*step.gate_results, result][-50:]
        step.save(update_fields=["gate_results"])
        verdict = _("passed") if result["ok"] else _("failed")
        _event(release, "gate.result", _("Gate %(gate)s %(verdict)s: %(detail)s")
               % {"gate": result["gate"], "verdict": verdict, "detail": result.get("detail", "")},
               {"step": step.index, **result}, audit=not result["ok"])


def step_finished(fence: Fence, step_id: int, *, ok: bool, reason: str = "") -> ReleaseStep:
    with locked(fence) as release:
        step = ReleaseStep.objects.select_for_update().get(pk=step_id, release=release)
        step.state = ReleaseStep.State.SUCCEEDED if ok else ReleaseStep.State.FAILED
        step.error, step.finished_at = reason[:2000], timezone.now()
        step.save(update_fields=["state", "error", "finished_at"])
        if ok:
            step.targets.update(state=StepTarget.State.SUCCEEDED, finished_at=step.finished_at)
            if release.current_step == step.index:
                release.current_step = step.index + 1
                release.save(update_fields=["current_step", "updated_at"])
            _event(release, "step.succeeded", _("Step %(i)s succeeded: %(name)s") % {"i": step.index + 1,
                                                                                   "name": step.name},
                   {"step": step.index, "name": step.name})
        else:
            _event(release, "step.failed", _("Step %(i)s failed: %(reason)s") % {"i": step.index + 1, "reason": reason},
                   {"step": step.index, "name": step.name, "reason": reason}, reason=reason)
        return step


def target_failed(fence: Fence, target_id: int, reason: str) -> None:
    with locked(fence):
        StepTarget.objects.filter(pk=target_id).update(state=StepTarget.State.FAILED, error=reason[:2000],
                                                       finished_at=timezone.now())


# --- progress observations (events, no audit) ----------------------------------------

def observed(fence: Fence, step: ReleaseStep | None, *, pods: list, progress: list) -> None:
    """One round of observations: pods [(cluster, changes)], progress [(target, updated, ready)]."""
    with locked(fence) as release:
        for cluster, changes in pods:
            _pod_states(release, cluster, changes)
        for target, updated, ready in progress:
            StepTarget.objects.filter(pk=target.pk).update(updated=updated, ready=ready)
            _event(release, "step.progress", "", {
                "step": step.index, "cluster": target.cluster_id, "cluster_slug": target.cluster.slug,
                "component": target.component, "updated": updated, "ready": ready, "desired": target.desired,
                "total": target.total}, audit=False)


def _pod_states(release: Release, cluster, changes: list[dict]) -> None:
    """changes: [{"component","pod","state","revision","restarts","reason"}] for one cluster; one
    SELECT, one UPDATE and one INSERT of rows and events for all of them (a hundred pods change at
    once: a round trip per pod held the executor's loop for half a second, measured)."""
    if not changes:
        return
    now = timezone.now()
    existing = {row.name: row for row in PodProgress.objects.filter(
        release=release, cluster=cluster, name__in=[c["pod"] for c in changes])}
    created, updated, items = {}, {}, []
    cell = cluster.cell.slug if cluster.cell_id else ""
    for change in changes:
        values = {"component": change["component"], "state": change["state"], "revision": change.get("revision"),
                  "restarts": change.get("restarts", 0), "reason": (change.get("reason") or "")[:500]}
        row = existing.get(change["pod"]) or created.get(change["pod"])
        if row is None:
            created[change["pod"]] = PodProgress(release=release, cluster=cluster, name=change["pod"], **values)
        else:
            for field, value in values.items():
                setattr(row, field, value)
            row.updated_at = now
            if row.pk is not None:
                updated[change["pod"]] = row
        items.append(("pod.state", "", {
            "cluster": cluster.pk, "cluster_slug": cluster.slug, "cell": cell,
            "component": change["component"], "pod": change["pod"], "state": change["state"],
            "revision": change.get("revision"), "restarts": change.get("restarts", 0),
            "reason": change.get("reason") or ""}))
    if created:
        PodProgress.objects.bulk_create(list(created.values()))
    if updated:
        PodProgress.objects.bulk_update(list(updated.values()),
                                        ["component", "state", "revision", "restarts", "reason", "updated_at"])
    events.record_many(release, items, actor=SYSTEM)


def traffic_sample(fence: Fence, sample: dict) -> None:
    """Requests since the release's first sample: a generator counts from when it started (demo
    start-up, earlier releases), and what the release page shows is what this release cost. The
    first sample's raw counts are kept as "base"; a generator restarted meanwhile starts a new base."""
    raw = {k: int(sample.get(k) or 0) for k in ("sent", "ok", "failed")}
    with locked(fence) as release:
        first = (release.events.filter(kind="traffic.sample").order_by("-seq")
                 .values_list("data", flat=True).first()) or {}
        base = first.get("base") or raw
        if any(raw[k] < int(base.get(k) or 0) for k in raw):  # the generator restarted: count afresh
            base = raw
        delta = {k: raw[k] - int(base.get(k) or 0) for k in raw}
        ratio = round(delta["ok"] / delta["sent"], 6) if delta["sent"] else 1.0
        _event(release, "traffic.sample", "", {**delta, "success_ratio": ratio, "base": base}, audit=False)
