"""The release executor: drives one release while it holds the release's lease.

advance(release_id) takes the lease (lease.py), heartbeats it on a thread and loops:
re-read the release; honour its flags and the stop switches; RUNNING → start (objects of the
target rendered, workloads held: workload.py), then the current step (wait for confirmation or
wait_seconds, ask releases.policy.may_start_step, lower partitions / release clusters, the per-pod
loop of every target in parallel, gates) and the next; ROLLING_BACK → every cluster back to the
baseline at once. It returns when the release is no longer driven (waiting, paused, final).

The main thread is the only one writing the database (fenced by the lease token, transitions.py);
cluster and traffic-provider calls run on a thread pool, each target with at most one call in
flight, so the flags and switches are read every POLL seconds however slow a cluster is, and a
cluster that has not answered for CLUSTER_TIMEOUT seconds fails its step with that reason.
"""
import logging
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from clusters.federation.sync import clusters_with_switch, is_paused
from paas.errors import DomainError

from .. import policy
from ..models import PodProgress, Release, ReleaseStep, StepTarget
from . import gates, lease, transitions, workload
from .calls import sample, sync_in_thread
from .pods import HOOK, Driver, OutOfTrafficBudget, TargetSpec
from .timeline import mark
from .traffic import ProviderError, generator_for, providers_for
from .transitions import Fence, LeaseLost

logger = logging.getLogger(__name__)
S = Release.State
POLL = 0.2  # seconds between two reads of the flags and switches
SAMPLE_EVERY = 2.0  # traffic.sample events
RESYNC_EVERY = 0.5  # a cluster that has not taken the new spec yet (its sync ran elsewhere) is synced again


def cluster_timeout() -> float:
    return float(getattr(settings, "RELEASE_CLUSTER_TIMEOUT_SECONDS", 30))


class Stopped(Exception):
    """The release must stop driving now (the transition is already recorded)."""


def advance(release_id: int, owner: str | None = None) -> str:
    owner = owner or lease.new_owner()
    token = lease.acquire(release_id, owner)
    if token is None:
        return "busy"
    try:
        with lease.Heartbeat(release_id, token) as heartbeat:
            return Executor(Fence(release_id, token), heartbeat).run()
    except LeaseLost:
        return "lease lost"
    finally:
        try:
            lease.give_back(release_id, token)
        except Exception:  # noqa: BLE001 - the database may be gone: the lease then simply expires
            logger.warning("release %s: lease not given back; it expires on its own", release_id)


class Executor:
    def __init__(self, fence: Fence, heartbeat):
        self.fence, self.heartbeat = fence, heartbeat
        self.pool = ThreadPoolExecutor(max_workers=int(getattr(settings, "RELEASE_EXECUTOR_THREADS", 16)),
                                       thread_name_prefix=f"release-{fence.release_id}")
        self.prepared = False
        self.cluster_ids: list[int] = []
        self.syncing: dict = {}  # cluster id -> the future of its last federation sync

    # --- the loop ----------------------------------------------------------------------

    def load(self) -> Release:
        if self.heartbeat.lost.is_set():
            raise LeaseLost("heartbeat lost the lease")
        return (Release.objects.select_related("tenant", "environment", "instance__application", "baseline", "target")
                .get(pk=self.fence.release_id))

    def run(self) -> str:
        mark("release %s driven", self.fence.release_id)
        try:
            while True:
                release = self.load()
                if release.lease_token != self.fence.token:
                    raise LeaseLost("taken over")
                self.cluster_ids = sorted({c["id"] for c in (release.plan or {}).get("clusters", [])})
                try:
                    self.check(release)
                    if release.state == S.ROLLING_BACK:
                        self.roll_back(release)
                        continue
                    if release.state != S.RUNNING:
                        return release.state
                    if not self.prepared:
                        self.prepare(release)
                    if not self.next_step(release):
                        return self.load().state
                except Stopped:
                    continue  # the transition is recorded: re-read the state it left
                except DomainError as exc:
                    # What federation refuses (an object another owner holds, a type disabled since the
                    # plan was made) will not pass on a retry: the release fails, saying why.
                    reason = _("cannot go on: %(e)s") % {"e": exc.message}
                    transitions.set_state(self.fence, S.FAILED, "release.failed",
                                          _("Release failed: %(r)s") % {"r": reason}, reason=reason, finished=True)
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def check(self, release: Release, drivers=()) -> None:
        """Flags and stop switches, read fresh; raises Stopped after recording the transition."""
        fresh = Release.objects.filter(pk=release.pk).values(
            "state", "pause_requested", "abort_requested", "rollback_requested", "reason", "lease_token").first()
        if fresh is None or fresh["lease_token"] != self.fence.token:
            raise LeaseLost("release gone or lease taken over")
        if self.heartbeat.lost.is_set():
            raise LeaseLost("heartbeat lost the lease")
        state = fresh["state"]
        if state not in Release.DRIVEN_STATES:
            return
        if fresh["abort_requested"]:
            self.settle(drivers)
            self.abort(fresh["reason"])
            raise Stopped()
        if fresh["rollback_requested"] and state != S.ROLLING_BACK:
            self.settle(drivers)
            transitions.rollback_started(self.fence, fresh["reason"] or _("rollback requested"))
            raise Stopped()
        switched = self.switch_reason()
        if switched:
            self.settle(drivers)
            transitions.set_state(self.fence, S.PAUSED, "release.stopped", _("Stopped: %(r)s") % {"r": switched},
                                  reason=switched)
            raise Stopped()
        if fresh["pause_requested"] and state == S.RUNNING:
            self.settle(drivers)
            reason = fresh["reason"] or _("paused on request")
            transitions.set_state(self.fence, S.PAUSED, "release.paused", _("Release paused: %(r)s") % {"r": reason},
                                  reason=reason)
            raise Stopped()

    def switch_reason(self) -> str:
        for cluster in clusters_with_switch(self.cluster_ids).values():
            if is_paused(cluster):
                if cluster.platform_paused:
                    return _("the global stop switch is on")
                return _("propagation to cluster %(c)s is paused") % {"c": cluster.slug}
        return ""

    def abort(self, reason: str) -> None:
        with transitions.locked(self.fence) as release:
            release.state, release.finished_at = S.ABORTED, timezone.now()
            release.abort_requested = release.pause_requested = False
            release.save(update_fields=["state", "finished_at", "abort_requested", "pause_requested", "updated_at"])
            release.steps.filter(state__in=[ReleaseStep.State.RUNNING, ReleaseStep.State.VERIFYING,
                                            ReleaseStep.State.WAITING]).update(state=ReleaseStep.State.CANCELLED)
            instance = release.instance
            instance.state = instance.State.DEPLOYED if instance.baseline_id else instance.State.EMPTY
            instance.save(update_fields=["state", "updated_at"])
            transitions._event(release, "release.aborted",
                               _("Release aborted: every pod stays on the revision it has"),
                               {"state": release.state, "step": release.current_step,
                                **({"reason": reason} if reason else {})}, reason=reason)

    def sleep_checking(self, release: Release, seconds: float, drivers=()) -> None:
        end = time.monotonic() + seconds
        while True:
            self.check(release, drivers)
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(POLL, left))

    # --- start and steps ---------------------------------------------------------------

    def prepare(self, release: Release) -> None:
        """The executor's first action (and again after a crash; it is idempotent)."""
        step = release.steps.filter(index=release.current_step).first()
        started = step is not None and step.state not in (ReleaseStep.State.PENDING, ReleaseStep.State.WAITING)
        with transitions.locked(self.fence):  # fenced: a worker that lost the lease changes nothing
            workload.prepare_objects(release)
            workload.hold_workloads(release, upto=release.current_step if started else release.current_step - 1)
        self.sync_now(self.cluster_ids)
        mark("release %s prepared", self.fence.release_id)
        transitions.started(self.fence)
        if not PodProgress.objects.filter(release=release).exists():
            self.census(release)
        self.prepared = True

    def census(self, release: Release) -> None:
        """Every pod of the instance as the release finds it (the page's grid from the start)."""
        specs = self.all_specs(release, revision=release.target.number, desired=0)
        drivers = self.drivers(release, specs)
        futures = {self.pool.submit(d.tick): d for d in drivers}
        finished, _pending = wait(list(futures), timeout=min(5.0, cluster_timeout()))
        pods = [(futures[f].spec.cluster, f.result().changes) for f in finished if f.exception() is None]
        if any(changes for _cluster, changes in pods):
            transitions.observed(self.fence, None, pods=pods, progress=[])

    def all_specs(self, release: Release, *, revision: int, desired: int | None) -> list[TargetSpec]:
        """One spec per workload and cluster of the plan (desired None: all of its pods)."""
        totals = workload.totals(release)
        kinds = {w["component"]: (w["kind"], w["name"]) for w in (release.plan or {}).get("workloads", [])}
        slugs = {c.slug: c for c in clusters_with_switch(self.cluster_ids).values()}
        return [TargetSpec(target_id=0, cluster=slugs[slug], component=component, kind=kinds[component][0],
                           name=kinds[component][1], namespace=workload.namespace(release),
                           desired=total if desired is None else desired, total=total, revision=revision,
                           application=release.instance.application.name)
                for (component, slug), total in sorted(totals.items()) if slug in slugs and component in kinds]

    def next_step(self, release: Release) -> bool:
        """Run the current step; False when the release stops being driven here."""
        steps = list(release.steps.order_by("index"))
        if release.current_step >= len(steps):
            transitions.succeeded(self.fence, finalize=lambda r: workload.finalize(r, r.target))
            mark("release %s succeeded", self.fence.release_id)
            self.sync_soon()
            mark("release %s synced", self.fence.release_id)
            return False
        step = steps[release.current_step]
        if step.state in (ReleaseStep.State.PENDING, ReleaseStep.State.WAITING):
            if step.index > 0 and step.manual and step.state == ReleaseStep.State.PENDING:
                transitions.step_waiting(self.fence, step.pk)
                return False
            previous = steps[step.index - 1] if step.index > 0 else None
            if step.wait_seconds and previous is not None and previous.finished_at:
                left = (previous.finished_at + timedelta(seconds=step.wait_seconds) - timezone.now()).total_seconds()
                if left > 0:
                    self.sleep_checking(release, left)
            why = policy.may_start_step(release, step)
            if why:
                transitions.step_waiting(self.fence, step.pk, reason=why)
                return False
        self.run_step(release, step)
        return True

    def specs(self, release: Release, targets, *, revision: int) -> list[TargetSpec]:
        ns = workload.namespace(release)
        names = {w["component"]: w["name"] for w in (release.plan or {}).get("workloads", [])}
        return [TargetSpec(target_id=t.pk, cluster=t.cluster, component=t.component, kind=t.workload_kind,
                           name=t.workload_name or names.get(t.component, ""), namespace=ns, desired=t.desired,
                           total=t.total, revision=revision, application=release.instance.application.name)
                for t in targets]

    def drivers(self, release: Release, specs: list[TargetSpec], *, rollback: bool = False) -> list[Driver]:
        providers = providers_for(release.instance) if release.options.get("lossless", True) else []
        known: dict[tuple[int, str], dict] = {}
        for row in PodProgress.objects.filter(release=release):
            known.setdefault((row.cluster_id, row.component), {})[row.name] = (
                row.state, row.revision, row.restarts, row.reason)
        # A rollback goes everywhere at once: half of each component's pods at most leave traffic together.
        budgets = {}
        if rollback:
            for spec in specs:
                budgets[spec.component] = budgets.get(spec.component, 0) + spec.total
            budgets = {component: OutOfTrafficBudget(total) for component, total in budgets.items()}
        out = []
        for spec in specs:
            partition = None
            if spec.kind == "CloneSet":
                partition = 0 if rollback else max(spec.total - spec.desired, 0)
            out.append(Driver(spec, options=release.options, providers=providers,
                              known=known.get((spec.cluster.pk, spec.component)), partition=partition,
                              budget=budgets.get(spec.component)))
        return out

    def arm(self, release: Release, targets) -> list:
        """Lossless CloneSets: every pod carries the traffic hook before its partition is lowered.
        Returns the futures of the calls (the caller waits for them before the partition leaves)."""
        if not release.options.get("lossless", True):
            return []
        ns = workload.namespace(release)
        return [self.pool.submit(workload.arm_hooks, t.cluster, t.workload_name, ns, HOOK)
                for t in targets if t.workload_kind == "CloneSet"]

    def run_step(self, release: Release, step: ReleaseStep) -> None:
        mark("step %s started", step.index)
        step = transitions.step_started(self.fence, step.pk)
        targets = list(StepTarget.objects.filter(step=step).select_related("cluster__cell").order_by("pk"))
        mark("step %s recorded", step.index)
        with transitions.locked(self.fence):
            # The hooks are armed while the partitions are written, but the partitions are committed
            # (so a sync anywhere may apply them) only once the hooks are there.
            arming = self.arm(release, targets)
            workload.hold_workloads(release, upto=step.index)
            if arming:
                wait(arming, timeout=min(5.0, cluster_timeout()))  # a cluster that hangs is failed by its driver
        mark("step %s armed and held", step.index)
        self.sync_now(sorted({t.cluster_id for t in targets}))
        mark("step %s synced", step.index)
        drivers = self.drivers(release, self.specs(release, targets, revision=release.target.number))
        gate_options = release.options.get("gates") or {}
        outcome = self.drive(release, step, drivers, timeout=float(gate_options.get("timeout_seconds", 300)))
        if outcome.get("failed"):
            transitions.target_failed(self.fence, outcome["target"], outcome["failed"])
            transitions.step_finished(self.fence, step.pk, ok=False, reason=outcome["failed"])
            transitions.set_state(self.fence, S.FAILED, "release.failed",
                                  _("Release failed: %(r)s") % {"r": outcome["failed"]}, reason=outcome["failed"],
                                  finished=True)
            return
        mark("step %s driven %s", step.index, outcome)
        transitions.step_verifying(self.fence, step.pk)
        results = gates.evaluate(release, drivers, gate_options, timed_out=outcome.get("timed_out", False))
        for result in results:
            transitions.gate_result(self.fence, step.pk, result)
        failing = [r for r in results if not r["ok"]]
        if not failing:
            transitions.step_finished(self.fence, step.pk, ok=True)
            mark("step %s finished", step.index)
            return
        first = failing[0]
        reason = _("gate %(gate)s failed: %(detail)s") % {"gate": first["gate"], "detail": first["detail"]}
        transitions.step_finished(self.fence, step.pk, ok=False, reason=reason)
        if release.options.get("on_gate_failure") == "rollback":
            transitions.rollback_started(self.fence, reason)
        else:
            transitions.set_state(self.fence, S.PAUSED, "release.paused", _("Release paused: %(r)s") % {"r": reason},
                                  reason=reason)

    # --- driving targets ------------------------------------------------------------------

    def drive(self, release: Release, step, drivers: list[Driver], *, timeout: float) -> dict:
        """Tick every driver until all are done; {"failed", "target"} | {"timed_out": True} | {}."""
        inflight: dict = {}
        last_tick: dict[int, float] = {}
        # What the main thread has recorded (a driver's own .last is written by its tick's thread
        # before the future completes: deciding on it could skip the last observation).
        done: set[int] = set()
        reported: dict[int, tuple] = {}
        started = time.monotonic()
        deadline, limit = started + timeout, cluster_timeout()
        next_sample, next_sync, sample_future = started, started + RESYNC_EVERY, None
        generator = generator_for(release.instance)
        for driver in drivers:
            driver.last_answer = started
        while True:
            now = time.monotonic()
            for i, driver in enumerate(drivers):
                due = min(last_tick.get(i, 0) + POLL, driver.next_deadline())
                if i not in inflight and i not in done and now >= due:
                    inflight[i] = self.pool.submit(driver.tick)
                    last_tick[i] = now
            if generator and sample_future is None and now >= next_sample:
                sample_future, next_sample = self.pool.submit(sample, *generator), now + SAMPLE_EVERY
            # Wake for the first answer, the next drain or warm-up that ends, or the next flag check.
            soonest = min([d.next_deadline() for d in drivers] + [last_tick.get(i, 0) + POLL
                                                                  for i in range(len(drivers)) if i not in done],
                          default=now + POLL)
            pause = max(0.01, min(POLL, soonest - now))
            if inflight:
                wait(list(inflight.values()), timeout=pause, return_when=FIRST_COMPLETED)
            else:
                # wait() on no futures returns at once: the loop spun on the flag queries until the
                # next tick was due (two queries a turn, competing with the ticks' threads for the GIL).
                time.sleep(pause)
            seen = []
            for i, future in list(inflight.items()):
                if not future.done():
                    continue
                del inflight[i]
                driver = drivers[i]
                try:
                    obs = future.result()
                except ProviderError as exc:
                    driver.error = str(exc)
                    continue
                except Exception as exc:  # noqa: BLE001 - any failure to reach the cluster counts as silence
                    driver.error = f"{exc.__class__.__name__}: {str(exc)[:200]}"
                    continue
                driver.error = ""
                seen.append((i, driver, obs))
                if obs.done:
                    done.add(i)
            self.record(step, seen, reported)
            if sample_future is not None and sample_future.done():
                result = sample_future.result()
                sample_future = None
                if result:
                    transitions.traffic_sample(self.fence, result)
            self.check(release, drivers)
            now = time.monotonic()
            for i, driver in enumerate(drivers):
                if i not in done and now - driver.last_answer >= limit:
                    reason = _("cluster %(c)s did not answer for %(s)s s") % {"c": driver.spec.cluster.slug,
                                                                              "s": f"{limit:g}"}
                    if driver.error:
                        reason += f" ({driver.error})"
                    return {"failed": reason, "target": driver.spec.target_id}
            if len(done) == len(drivers):
                return {}
            if now >= deadline:
                return {"timed_out": True}
            if now >= next_sync:
                self.resync([d.spec.cluster.pk for i, d in enumerate(drivers)
                             if i not in done and d.last and "not taken" in d.last.waiting])
                next_sync = now + RESYNC_EVERY

    def record(self, step, seen: list, reported: dict) -> None:
        """What one round of ticks saw, in one transaction: pod states, and step progress where it moved."""
        pods, progress = [], []
        for i, driver, obs in seen:
            if obs.changes:
                pods.append((driver.spec.cluster, obs.changes))
            if step is not None and reported.get(i) != (obs.updated, obs.ready):
                reported[i] = (obs.updated, obs.ready)
                target = StepTarget(pk=driver.spec.target_id, cluster=driver.spec.cluster,
                                    component=driver.spec.component, desired=driver.spec.desired,
                                    total=driver.spec.total)
                progress.append((target, obs.updated, obs.ready))
        if pods or progress:
            t0 = time.monotonic()
            transitions.observed(self.fence, step, pods=pods, progress=progress)
            states: dict = {}
            for _cluster, changes in pods:
                for change in changes:
                    states[change["state"]] = states.get(change["state"], 0) + 1
            mark("recorded %s progress %s in %.3f s", states, [(p[1], p[2]) for p in progress], time.monotonic() - t0)

    def settle(self, drivers) -> None:
        """Pods out of traffic but not handed over go back in (bounded: a hung cluster is not waited for)."""
        futures = [self.pool.submit(d.settle) for d in drivers]
        if futures:
            wait(futures, timeout=1.0)

    # --- rollback ----------------------------------------------------------------------------

    def roll_back(self, release: Release) -> None:
        with transitions.locked(self.fence):
            workload.hold_workloads(release, upto=-1, rollback=True)
        self.sync_now(self.cluster_ids)
        specs = self.all_specs(release, revision=release.baseline.number, desired=None)
        drivers = self.drivers(release, specs, rollback=True)
        timeout = float((release.options.get("gates") or {}).get("timeout_seconds", 300))
        outcome = self.drive(release, None, drivers, timeout=timeout)
        if outcome:
            reason = outcome.get("failed") or _("rollback: pods not back on revision %(n)s after %(s)s s") % {
                "n": release.baseline.number, "s": f"{timeout:g}"}
            transitions.set_state(self.fence, S.FAILED, "release.failed", _("Rollback failed: %(r)s") % {"r": reason},
                                  reason=reason, finished=True)
            return
        transitions.rolled_back(self.fence, finalize=lambda r: workload.finalize(r, r.baseline))
        self.sync_soon()

    # --- federation sync -----------------------------------------------------------------------

    def sync_now(self, cluster_ids) -> None:
        """Apply what federation holds to these clusters now (not at the next beat), on the pool:
        a hung cluster is noticed by the drivers, never waited for here beyond a few seconds."""
        futures = self.resync(cluster_ids)
        if futures:
            wait(futures, timeout=min(5.0, cluster_timeout()))

    def resync(self, cluster_ids) -> list:
        """One sync per cluster (a cluster that hangs must not hold back the others' partitions),
        and none for a cluster whose previous sync is still running."""
        started = []
        for pk in cluster_ids:
            running = self.syncing.get(pk)
            if running is None or running.done():
                self.syncing[pk] = self.pool.submit(sync_in_thread, [pk])
                started.append(self.syncing[pk])
        return started

    def sync_soon(self) -> None:
        try:
            sync_in_thread(self.cluster_ids)
        except Exception as exc:  # noqa: BLE001 - the beat's sync catches up
            logger.warning("release %s: final sync left to the beat (%s)", self.fence.release_id, exc)
