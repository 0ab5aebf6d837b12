"""A build's life as the worker and the reaper see it: log lines, steps, state changes.

Every change takes the build's row lock, so the log is numbered without gaps whoever
writes it (the task, a cancel, the reaper), and a state once finished never changes again.
Each log line and state change is pushed after commit to the tenant's live stream
(`build.log`, `build.state`) for whoever may see the tenant; the stored lines are what a
browser fetches when it reconnects or sees a gap (API `.../log/?after=N`).
"""
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from paas.actors import Actor
from paas.audit.services import audit_record
from paas.realtime import emit
from paas.tasks import enqueue

from .models import Build, BuildLogLine

logger = logging.getLogger(__name__)

SYSTEM = Actor.for_system("builds")
MAX_LINE = 4000
# A killed worker's build is run this many times in all before it is failed.
MAX_ATTEMPTS = 2
STEPS = [step for step, _label in Build.Step.choices]


def build_url(build: Build) -> str:
    return reverse("builds:detail", kwargs={"app_id": build.application_id, "number": build.number})


def _locked(build_id: int) -> Build | None:
    return Build.objects.select_for_update().filter(pk=build_id).first()


def write_lines(build: Build, text: str) -> None:
    """Append `text` (one line per line of it) to a build whose row the caller holds locked."""
    lines = [line[:MAX_LINE] for line in str(text).replace("\r\n", "\n").split("\n")] or [""]
    first = build.log_lines + 1
    BuildLogLine.objects.bulk_create(
        [BuildLogLine(build=build, number=first + i, text=line) for i, line in enumerate(lines)])
    build.log_lines = first + len(lines) - 1
    for i, line in enumerate(lines):
        emit.to_tenant(build.tenant_id, {"type": "build.log", "build": build.pk, "application": build.application_id,
                                         "number": first + i, "text": line}, permission="view_tenant")


def emit_state(build: Build) -> None:
    emit.to_tenant(build.tenant_id, {
        "type": "build.state", "build": build.pk, "application": build.application_id, "number": build.number,
        "resource": build.pk, "state": build.state, "step": build.step, "url": build_url(build)},
        permission="view_tenant")


def _superseded(build: Build, attempt: int | None) -> bool:
    """Whether a run (its `attempt`) no longer owns the build: the reaper gave up on it, or
    another worker took the build over. Such a run writes nothing more."""
    return attempt is not None and (build.state != Build.State.RUNNING or build.attempts != attempt)


def append_log(build_id: int, text: str, *, attempt: int | None = None, heartbeat: bool = True) -> int | None:
    """Append log lines to a build; returns the last line's number (None when the build is gone,
    or when `attempt` is given and that run no longer owns the build)."""
    with transaction.atomic():
        build = _locked(build_id)
        if build is None or _superseded(build, attempt):
            return None
        write_lines(build, text)
        fields = ["log_lines"]
        if heartbeat and build.state == Build.State.RUNNING:
            build.heartbeat_at = timezone.now()
            fields.append("heartbeat_at")
        build.save(update_fields=fields)
        return build.log_lines


def set_step(build_id: int, step: str, *, attempt: int | None = None) -> None:
    """Move a running build to `step` (never backwards)."""
    with transaction.atomic():
        build = _locked(build_id)
        if build is None or build.state != Build.State.RUNNING or build.step == step or _superseded(build, attempt):
            return
        if build.step in STEPS and STEPS.index(step) < STEPS.index(build.step):
            return
        build.step = step
        build.heartbeat_at = timezone.now()
        build.save(update_fields=["step", "heartbeat_at"])
        emit_state(build)


def heartbeat(build_id: int, attempt: int | None = None) -> tuple[bool, str, int] | None:
    """Record that the run (`attempt`) is alive; returns (cancel_requested, state, attempts),
    None when the build is gone."""
    running = Build.objects.filter(pk=build_id, state=Build.State.RUNNING)
    if attempt is not None:
        running = running.filter(attempts=attempt)
    running.update(heartbeat_at=timezone.now())
    row = Build.objects.filter(pk=build_id).values_list("cancel_requested", "state", "attempts").first()
    return None if row is None else (row[0], row[1], row[2])


def is_fresh(build: Build, now=None) -> bool:
    now = now or timezone.now()
    limit = timedelta(seconds=settings.BUILD_LOST_AFTER_SECONDS)
    seen = build.heartbeat_at or build.started_at
    return seen is not None and now - seen < limit


def _finish(build: Build, state: str, *, error: str = "", line: str = "", **fields) -> None:
    build.state = state
    build.error = error[:10000]
    build.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(build, name, value)
    if line:
        write_lines(build, line)
    build.save()
    after = {"number": build.number, "state": state}
    if state == Build.State.SUCCEEDED:
        after.update(digest=build.image_digest, size=build.image_size, provenance_digest=build.provenance_digest)
    elif error:
        after["error"] = build.error[:500]
    audit_record(actor=SYSTEM, action="build.finish", target=build, after=after)
    emit_state(build)


def claim(build_id: int, *, worker: str = "", builder: str = "") -> Build | None:
    """Take a build to run: queued -> running. None when it must not run here: gone, finished,
    or running on a worker whose heartbeat is fresh (a re-delivered message). A running build
    whose worker went silent is taken over once, then failed."""
    with transaction.atomic():
        build = _locked(build_id)
        if build is None or build.finished:
            return None
        if build.state == Build.State.RUNNING:
            if is_fresh(build):
                return None
            if not _lost(build):
                return None
        if build.cancel_requested:
            _finish(build, Build.State.CANCELLED, line="Cancelled before it started.")
            return None
        now = timezone.now()
        build.state = Build.State.RUNNING
        build.attempts += 1
        build.started_at = now
        build.heartbeat_at = now
        build.finished_at = None
        build.step = Build.Step.PREPARE
        build.builder = builder[:20]
        where = f" on {worker}" if worker else ""
        write_lines(build, f"Build #{build.number} started{where} (attempt {build.attempts} of {MAX_ATTEMPTS}).")
        build.save()
        emit_state(build)
        return build


def _lost(build: Build) -> bool:
    """A running build whose worker is gone (row locked): run it again if it may still be
    retried (True: the caller re-runs it), else fail or cancel it (False)."""
    if build.cancel_requested:
        _finish(build, Build.State.CANCELLED, line="The worker was lost; the build is cancelled as requested.")
        return False
    if build.attempts >= MAX_ATTEMPTS:
        _finish(build, Build.State.FAILED, error="Worker lost twice: the build was stopped both times it ran.",
                line="worker lost twice; the build has failed")
        return False
    write_lines(build, "worker lost; retrying")
    return True


def requeue_lost(build_id: int) -> str | None:
    """Reaper: a running build with a stale heartbeat goes back to the queue once, then fails."""
    with transaction.atomic():
        build = _locked(build_id)
        if build is None or build.state != Build.State.RUNNING or is_fresh(build):
            return None
        if not _lost(build):
            return build.state
        build.state = Build.State.QUEUED
        build.step = ""
        build.enqueued_at = timezone.now()
        build.save()
        audit_record(actor=SYSTEM, action="build.retry", target=build,
                     after={"number": build.number, "attempts": build.attempts, "reason": "worker lost"})
        emit_state(build)
        send(build)
        return build.state


def fail_overdue(build_id: int, limit_seconds: int) -> bool:
    """Reaper: a running build past its time limit is failed (its worker, if alive, stops at its next check)."""
    with transaction.atomic():
        build = _locked(build_id)
        if build is None or build.state != Build.State.RUNNING:
            return False
        _finish(build, Build.State.FAILED, error=f"Time limit of {limit_seconds} s exceeded.",
                line=f"time limit of {limit_seconds} s exceeded; the build has failed")
        return True


def resend_queued(build_id: int) -> bool:
    """Reaper: send a queued build's message again (lost message, broker outage)."""
    with transaction.atomic():
        build = _locked(build_id)
        if build is None or build.state != Build.State.QUEUED:
            return False
        build.enqueued_at = timezone.now()
        build.save(update_fields=["enqueued_at"])
        send(build)
        return True


def finish(build_id: int, state: str, *, attempt: int | None = None, error: str = "", line: str = "",
           **fields) -> Build | None:
    """The worker's end of a run; does nothing if the build already finished (e.g. failed by the
    reaper) or, given `attempt`, if that run no longer owns the build."""
    if state not in Build.FINISHED:
        raise ValueError(f"{state!r} is not a final state")
    with transaction.atomic():
        build = _locked(build_id)
        if build is None or build.finished or _superseded(build, attempt):
            return build
        _finish(build, state, error=error, line=line, **fields)
        return build


def send(build: Build) -> None:
    """Enqueue the run once the current transaction commits (the beat reaper re-sends if this fails)."""
    from .tasks import run

    build_id = build.pk
    transaction.on_commit(lambda: enqueue(run, args=[build_id], queue="builds"))
