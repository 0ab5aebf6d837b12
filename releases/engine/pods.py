"""One workload in one cluster during a step: the per-pod lifecycle-hook loop (CONTRACTS A).

A Driver is ticked by the executor (on a thread of its pool; a tick only talks to the cluster
and the traffic providers, never to the database) and answers what it saw: each pod's state,
how many pods run the update revision and are ready, and whether the target is reached.

CloneSet, per pod, reading the cluster first each time (so a resumed release continues where
the cluster is, and a pod already on the update revision is never touched again):
- not updated, lifecycle state PreparingUpdate/PreparingDelete and hook label "true": the
  controller waits for us. Lossless: take it out of traffic (the instance's providers), drain
  for drain_seconds, then flip paas.io/traffic-hook to "false" (the controller updates it in
  place). Not lossless: flip at once.
- not updated, hook "false": the controller is updating it (we flipped it, maybe before a crash).
- updated, Ready, hook "false" (lifecycle Updated): warm up for warmup_seconds, put it back in
  traffic, wait until every provider routes to it again (a load balancer or registry follows
  with a lag: letting the next pods go before would leave too few in rotation), then flip the
  hook to "true" (the controller sets Normal).
- updated, Ready, hook "true": done.
Deployment: the controller replaces the pods; the driver only watches the rollout.
"""
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings

from applications import render
from applications.validation import object_name

from ..models import PodProgress
from . import workload
from .timeline import mark
from .traffic import PodRef

State = PodProgress.State
LIFECYCLE = "lifecycle.apps.kruise.io/state"
HOOK = "paas.io/traffic-hook"
REVISION_HASH = "controller-revision-hash"
PREPARING = ("PreparingUpdate", "PreparingDelete")
BAD_WAITING = ("ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff", "InvalidImageName", "CreateContainerError")
MOVING = (State.OUT_OF_TRAFFIC, State.UPDATING, State.WARMING)
REJOIN_SECONDS = 30.0  # the longest a pod waits for the providers to route to it again before going on
ACTIONS = ThreadPoolExecutor(max_workers=int(getattr(settings, "RELEASE_ACTION_THREADS", 16)),
                             thread_name_prefix="release-pod")


@dataclass
class TargetSpec:
    target_id: int
    cluster: object  # clusters.models.Cluster
    component: str
    kind: str  # CloneSet | Deployment
    name: str
    namespace: str
    desired: int
    total: int
    revision: int  # AppRevision.number the pods must end on
    application: str


@dataclass
class Observation:
    changes: list = field(default_factory=list)  # pod state changes since the last tick
    updated: int = 0
    ready: int = 0
    ready_total: int = 0  # ready pods of the workload, any revision
    done: bool = False
    waiting: str = ""  # why not done, in words


def pod_ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or [])) if pod.status else False


def restarts_of(pod) -> int:
    return sum(s.restart_count or 0 for s in (pod.status.container_statuses or [])) if pod.status else 0


def waiting_reason(pod) -> str:
    for status in (pod.status.container_statuses or []) if pod.status else []:
        waiting = status.state.waiting if status.state else None
        if waiting is not None and waiting.reason in BAD_WAITING:
            return f"{waiting.reason}: {(waiting.message or '')[:200]}".rstrip(": ")
    return ""


class OutOfTrafficBudget:
    """At most `limit` pods of one component out of traffic at once, across every cluster.

    A rollback lowers every partition at once (the fastest way back), so the controller offers
    every pod for update together; taking them all out of traffic at once would leave the
    component no capacity at all (measured: the demo lost every request for ~5 s). Pods without a
    slot stay parked in PreparingUpdate, still Ready and serving, until one comes back. Shared by the
    drivers of one component, which tick on different threads."""

    def __init__(self, total_pods: int, share: float = 0.5):
        self.limit = max(1, math.floor(total_pods * share))
        self.lock = threading.Lock()
        self.holders: set[tuple[str, str]] = set()

    def take(self, key: tuple[str, str], *, force: bool = False) -> bool:
        with self.lock:
            if key in self.holders:
                return True
            if len(self.holders) >= self.limit and not force:
                return False
            self.holders.add(key)
            return True

    def give_back(self, key: tuple[str, str]) -> None:
        with self.lock:
            self.holders.discard(key)


class Driver:
    def __init__(self, spec: TargetSpec, *, options: dict, providers: list, known: dict | None = None,
                 partition: int | None = None, budget: OutOfTrafficBudget | None = None):
        self.spec = spec
        self.budget = budget
        self.lossless = bool(options.get("lossless", True))
        self.drain = float(options.get("drain_seconds", 2) or 0)
        self.warmup = float(options.get("warmup_seconds", 1) or 0)
        self.providers = providers
        self.partition = partition  # what spec.updateStrategy.partition must say before counting
        self.states: dict[str, tuple] = dict(known or {})  # pod -> (state, revision, restarts, reason) reported
        self.phase: dict[str, tuple[str, float]] = {}  # pod -> ("draining"|"warming", deadline)
        self.restarts_at_new: dict[str, int] = {}
        # Pods this driver took out of traffic and has not put back (seeded from the states a
        # resumed release recorded, so a pod out of traffic before a crash is put back too).
        self.out: set[str] = {name for name, st in self.states.items() if st[0] in MOVING}
        for name in self.out:  # already out before a restart: they hold their slots
            if budget is not None:
                budget.take((spec.cluster.slug, name), force=True)
        self.back: set[str] = set()
        self.actions: list = []
        self.last_answer = time.monotonic()
        self.error = ""
        self.last: Observation | None = None
        self.pods: list = []

    def next_deadline(self) -> float:
        """When the first drain or warm-up under way ends (monotonic; infinity when none is):
        the executor ticks the driver then rather than at its next regular pass."""
        return min((deadline for phase, deadline in self.phase.values() if phase in ("draining", "warming")),
                   default=float("inf"))

    # --- one pass --------------------------------------------------------------------

    def tick(self) -> Observation:
        s = self.spec
        t0 = time.monotonic()
        found = workload.read(s.cluster, s.kind, s.name, s.namespace)
        self.last_answer = time.monotonic()
        mark("tick %s read in %.3f s", s.cluster.slug, self.last_answer - t0)
        if found is None:
            return Observation(waiting=f"{s.kind} {s.name} is not in {s.cluster.slug} yet")
        self.pods = [p for p in found.pods if p.metadata.deletion_timestamp is None]
        current: dict[str, tuple] = {}
        self.actions = []
        if s.kind == "CloneSet":
            self._rejoining_back()
        obs = (self._cloneset if s.kind == "CloneSet" else self._deployment)(found, current)
        t1 = time.monotonic()
        n = len(self.actions)
        self._run_actions()
        if n:
            mark("tick %s ran %s actions in %.3f s", s.cluster.slug, n, time.monotonic() - t1)
        obs.ready_total = sum(1 for p in self.pods if pod_ready(p))
        for name, state in self.states.items():
            if name not in current and state[0] != State.GONE:
                current[name] = (State.GONE, state[1], state[2], "")
        for name, state in current.items():
            if self.states.get(name) != state:
                obs.changes.append({"component": s.component, "pod": name, "state": state[0], "revision": state[1],
                                    "restarts": state[2], "reason": state[3]})
        self.states = current
        self.last = obs
        return obs

    def _template_revision(self, obj: dict) -> str:
        labels = (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
        return labels.get(render.REVISION_LABEL, "")

    def _cloneset(self, found, current) -> Observation:
        s, obj = self.spec, found.obj
        status, meta = obj.get("status") or {}, obj.get("metadata") or {}
        update_revision = status.get("updateRevision", "")
        obs = Observation()
        applied = self._template_revision(obj) == str(s.revision)
        partition = ((obj.get("spec") or {}).get("updateStrategy") or {}).get("partition")
        if self.partition is not None and str(partition) != str(self.partition):
            applied = False
        observed = status.get("observedGeneration", 0) >= meta.get("generation", 0)
        now = time.monotonic()
        for pod in self.pods:
            name, labels = pod.metadata.name, pod.metadata.labels or {}
            on_new = applied and observed and labels.get(REVISION_HASH) == update_revision
            ready, hook = pod_ready(pod), labels.get(HOOK)
            state, reason = self._cloneset_pod(pod, on_new=on_new, ready=ready, hook=hook,
                                               lifecycle=labels.get(LIFECYCLE, ""), now=now)
            revision = _int(labels.get(render.REVISION_LABEL))
            current[name] = (state, revision, restarts_of(pod), reason)
            if on_new:
                obs.updated += 1
                if state == State.NEW:
                    obs.ready += 1
                    self.restarts_at_new.setdefault(name, restarts_of(pod))
        moving = sum(1 for st in current.values() if st[0] in MOVING)
        obs.done = applied and observed and obs.ready >= s.desired and not moving
        if not obs.done:
            obs.waiting = (f"{obs.ready} of {s.desired} pods ready on revision {s.revision}" if applied and observed
                           else f"{s.cluster.slug} has not taken the new {s.kind} spec yet")
        return obs

    def _cloneset_pod(self, pod, *, on_new, ready, hook, lifecycle, now) -> tuple[str, str]:
        """The pod's state, and the action it needs queued (self.actions; run after the pass, side
        by side, and only then the bookkeeping that assumes it was done)."""
        name = pod.metadata.name
        if not on_new:
            if lifecycle in PREPARING and hook != "false":
                if not self.lossless:
                    self._queue(lambda: self._flip(pod, "false"))
                    return State.UPDATING, ""
                phase = self.phase.get(name)
                if phase is None or phase[0] != "draining":
                    if self.budget is not None and not self.budget.take((self.spec.cluster.slug, name)):
                        return State.OLD, ""  # parked and still serving until another pod is back
                    self._queue(lambda: self._take_out(pod), lambda: self._draining(name, now))
                    return State.OUT_OF_TRAFFIC, ""
                if now < phase[1]:
                    return State.OUT_OF_TRAFFIC, ""
                self._queue(lambda: self._flip(pod, "false"), lambda: self.phase.pop(name, None))
                return State.UPDATING, ""
            if hook == "false" or name in self.out or lifecycle == "Updating":
                return State.UPDATING, ""
            return State.OLD, ""
        if not ready:
            reason = waiting_reason(pod)
            return (State.FAILED, reason) if reason else (State.UPDATING, "")
        # In flight: the hook still released, or a pod we took out of traffic (its update may have set
        # the hook label back itself: a baseline rendered without hooks, e.g. by a direct apply, has
        # the label only in the new template). Either way it warms up and goes back into traffic.
        in_flight = (hook == "false" or name in self.out or name in self.phase
                     or self.states.get(name, (State.OLD,))[0] in MOVING)
        if not in_flight:
            return State.NEW, ""
        if not self.lossless:
            if hook == "false":
                self._queue(lambda: self._flip(pod, "true"))
            return State.NEW, ""
        phase = self.phase.get(name)
        if phase is None or phase[0] not in ("warming", "rejoining"):
            self.phase[name] = ("warming", now + self.warmup)
            return State.WARMING, ""
        if phase[0] == "warming":
            if now >= phase[1]:
                self._queue(lambda: self._put_back(pod),
                            lambda: self.phase.__setitem__(name, ("rejoining", now + REJOIN_SECONDS)))
            return State.WARMING, ""
        # Rejoining: back in every provider's rotation (a load balancer or registry follows with a lag)
        # before the hook goes back and the controller lets the next pods go.
        if name in self.back or now >= phase[1]:
            self._queue(lambda: self._flip(pod, "true") if hook == "false" else None, lambda: self._rejoined(name))
            return State.NEW, ""
        return State.WARMING, ""

    def _queue(self, action, done=None) -> None:
        self.actions.append((action, done))

    def _draining(self, name: str, now: float) -> None:
        self.phase[name] = ("draining", now + self.drain)
        self.out.add(name)

    def _rejoined(self, name: str) -> None:
        self.phase.pop(name, None)
        self.out.discard(name)
        if self.budget is not None:
            self.budget.give_back((self.spec.cluster.slug, name))

    def _run_actions(self) -> None:
        """The queued cluster and provider calls, side by side (a batch of a hundred pods must not
        wait for a hundred calls in a row); the bookkeeping of each only when it succeeded. The
        first failure is raised after all ran: the pass's states are then not reported, and the
        next pass starts again from what the cluster says."""
        actions, self.actions = self.actions, []
        if not actions:
            return
        futures = [(ACTIONS.submit(action), done) for action, done in actions]
        error = None
        for future, done in futures:
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - raised below, after the others' bookkeeping
                error = error or exc
                continue
            if done is not None:
                done()
        if error is not None:
            raise error

    def _rejoining_back(self) -> None:
        """Which rejoining pods every provider serves again (one list call per provider)."""
        rejoining = [p for p in self.pods if self.phase.get(p.metadata.name, ("",))[0] == "rejoining"]
        self.back = {p.metadata.name for p in rejoining}
        if not rejoining:
            return
        refs = [self.pod_ref(p) for p in rejoining]
        for provider in self.providers:
            serving = getattr(provider, "serving", None)
            if serving is not None:
                self.back &= serving(refs)

    def _deployment(self, found, current) -> Observation:
        s, obj = self.spec, found.obj
        status, meta, spec = obj.get("status") or {}, obj.get("metadata") or {}, obj.get("spec") or {}
        applied = self._template_revision(obj) == str(s.revision)
        observed = status.get("observedGeneration", 0) >= meta.get("generation", 0)
        obs = Observation()
        for pod in self.pods:
            labels = pod.metadata.labels or {}
            revision = _int(labels.get(render.REVISION_LABEL))
            on_new, ready = revision == s.revision, pod_ready(pod)
            reason = "" if ready else waiting_reason(pod)
            state = (State.NEW if ready else State.FAILED if reason else State.UPDATING) if on_new else State.OLD
            current[pod.metadata.name] = (state, revision, restarts_of(pod), reason)
            if on_new:
                obs.updated += 1
                obs.ready += int(ready)
                if ready:
                    self.restarts_at_new.setdefault(pod.metadata.name, restarts_of(pod))
        replicas = spec.get("replicas", s.total)
        old = sum(1 for st in current.values() if st[0] == State.OLD)
        obs.done = (applied and observed and status.get("updatedReplicas", 0) >= replicas
                    and obs.ready >= replicas and not old)
        if not obs.done:
            obs.waiting = f"{obs.ready} of {replicas} pods ready on revision {s.revision}"
        return obs

    # --- pods in and out of traffic ------------------------------------------------------

    def pod_ref(self, pod) -> PodRef:
        s = self.spec
        return PodRef(cluster=s.cluster.slug, namespace=s.namespace, name=pod.metadata.name,
                      ip=(pod.status.pod_ip or "") if pod.status else "", application=s.application,
                      component=s.component, service=object_name(s.application, s.component))

    def _take_out(self, pod) -> None:
        ref = self.pod_ref(pod)
        for provider in self.providers:
            provider.take_out(ref)

    def _put_back(self, pod) -> None:
        ref = self.pod_ref(pod)
        for provider in self.providers:
            provider.put_back(ref)

    def _flip(self, pod, value: str) -> None:
        workload.patch_pod_labels(self.spec.cluster, self.spec.namespace, pod.metadata.name, {HOOK: value})

    def settle(self) -> None:
        """The release stops here (pause, abort, switch): pods taken out of traffic but not handed
        to the controller yet go back in, so stopping never leaves capacity out."""
        for pod in self.pods:
            if self.phase.get(pod.metadata.name, ("",))[0] == "draining":
                ref = self.pod_ref(pod)
                for provider in self.providers:
                    provider.put_back(ref)
                self.phase.pop(pod.metadata.name, None)
                self.out.discard(pod.metadata.name)

    def restarted(self) -> list[tuple[str, int, int]]:
        """(pod, restarts when it became ready on the target, restarts now) for pods that restarted since."""
        now = {p.metadata.name: restarts_of(p) for p in self.pods}
        return [(name, before, now[name]) for name, before in sorted(self.restarts_at_new.items())
                if name in now and now[name] > before]


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
