"""Scheduler and kubelets in one controller: binds pods to nodes with free capacity and
drives each pod's containers through their life.

Lifecycle, per pod:
  created -> bound to a node (PodScheduled, podIP assigned, containers ContainerCreating)
  -> after ``ready_delay`` Running and Ready
  -> image changed in place: same pod name and IP, restartCount+1, not ready, ready again
     after ``ready_delay``
  -> image tag containing "crashloop": never ready; CrashLoopBackOff with restartCount
     growing on an exponential back-off; "unpullable"/"notfound": ErrImagePull then
     ImagePullBackOff, pod Pending; "unready": Running, its readiness probe failing.
  -> an image naming a registry that answers (``host[:port]/repo``): the registry is asked
     while the pod starts; a missing tag or digest, or refused credentials, fail the pull
     like an "unpullable" tag; found, the container reports ``<host>/<repo>@<digest>`` as
     its imageID (``kubelet_pulls``, ``imagepull``). A running container is never re-checked;
     a crash-looping one is pulled again on restart only with imagePullPolicy Always.
The start-up delay is one entry in the shared timer heap per pod, not a task.

Along the way it records the Events a real scheduler and kubelet do (Scheduled,
Pulling, Pulled, Created, Started, BackOff, Failed, Unhealthy, Killing), worded in
``kubelet_events``.
"""
from __future__ import annotations

import hashlib
import time

from .. import quantity
from ..apiserver import now_iso
from ..selectors import LabelSelector, Requirement
from . import kubelet_events as say
from .base import Controller
from .imagepull import Puller
from .kubelet_pulls import ImagePulls, image_id, pull_backoff_base, pull_failure, waiting_reason
from .podutil import image_behaviour, is_active, pod_phase, requests_of
from .readiness import kubelet_conditions, ready_out_of_date

MAX_BACKOFF = 300.0


class NodeState:
    __slots__ = ("name", "cpu", "memory", "pods", "used_cpu", "used_memory", "used_pods", "labels",
                 "schedulable", "ip")

    def __init__(self, node: dict):
        self.used_cpu = 0  # thousandths, like all resource amounts here
        self.used_memory = 0
        self.used_pods = 0
        self.refresh(node)

    def refresh(self, node: dict) -> None:
        meta, status = node["metadata"], node.get("status") or {}
        allocatable = status.get("allocatable") or status.get("capacity") or {}
        self.name = meta["name"]
        self.cpu = quantity.milli(allocatable.get("cpu", "0"))
        self.memory = quantity.milli(allocatable.get("memory", "0"))
        self.pods = quantity.milli(allocatable.get("pods", "110")) // 1000
        self.labels = meta.get("labels") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())
        self.schedulable = ready and not (node.get("spec") or {}).get("unschedulable")
        self.ip = next((a.get("address") for a in status.get("addresses") or () if a.get("type") == "InternalIP"), "")

    def fits(self, cpu: int, memory: int) -> bool:
        return (self.schedulable and self.used_pods < self.pods and self.used_cpu + cpu <= self.cpu
                and self.used_memory + memory <= self.memory)


def _fake_id(prefix: str, text: str) -> str:
    return prefix + hashlib.sha256(text.encode()).hexdigest()


def _fake_image_id(image: str) -> str:
    """The imageID of an image no registry was asked about."""
    return _fake_id("sim.local/image@sha256:", image)


def _waiting(container: dict, reason: str, restarts: int, last_state: dict | None = None, message: str = "") -> dict:
    state = {"reason": reason}
    if message:
        state["message"] = message
    return {"name": container["name"], "image": container.get("image", ""), "imageID": "",
            "ready": False, "started": False, "restartCount": restarts,
            "state": {"waiting": state}, "lastState": last_state or {}}


class Kubelet(ImagePulls, Controller):
    watches = ("pods", "nodes")

    def __init__(self, manager):
        super().__init__(manager)
        self.nodes: dict[str, NodeState] = {}
        self.node_order: list[str] = []
        self.cursor = 0
        self.bound: dict[tuple, tuple[str, int, int]] = {}
        self.pods_on: dict[str, set] = {}
        self.unschedulable: set = set()
        self.starting: dict[tuple, tuple] = {}
        self.ip_counter = 0
        self.images: dict[str, dict] = {}  # node -> image it has pulled -> its imageID
        self.pulls: dict[tuple, float] = {}  # (pod key, container) -> when its pull began
        self.puller = Puller(manager.loop, self.store)
        self.pull_chains: dict[tuple, tuple] = {}  # pod key -> token of its running pull back-off
        self.pull_backoff = pull_backoff_base()

    # -- bookkeeping from events ---------------------------------------------------------

    def handle(self, type_, bucket, old, new):
        if bucket == "nodes":
            self._node_event(type_, old, new)
            return
        meta = new["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if type_ == "DELETED" or not is_active(new):
            if key in self.bound and (type_ == "DELETED" or new["metadata"].get("deletionTimestamp")):
                self.timers.call_later(0, self._stopped, new)  # after this write reached every watcher
            self._release(key)
            self.starting.pop(key, None)
            self.unschedulable.discard(key)
            self.puller.forget(key)
            self.pull_chains.pop(key, None)
            for container in (new.get("spec") or {}).get("containers") or ():
                self.pulls.pop((key, container.get("name")), None)
            return
        node = (new.get("spec") or {}).get("nodeName")
        if node and key not in self.bound:
            cpu, memory = requests_of(new.get("spec") or {})
            self.bound[key] = (node, cpu, memory)
            self.pods_on.setdefault(node, set()).add(key)
            state = self.nodes.get(node)
            if state is not None:
                state.used_cpu += cpu
                state.used_memory += memory
                state.used_pods += 1
        if self._needs_work(key, new):
            self.enqueue(key)

    def _needs_work(self, key, pod: dict) -> bool:
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        if not spec.get("nodeName"):
            return True
        statuses = status.get("containerStatuses")
        if not statuses:
            return True
        by_name = {s.get("name"): s for s in statuses}
        for container in spec.get("containers") or ():
            have = by_name.get(container.get("name"))
            if have is None or have.get("image") != container.get("image"):
                return True
        return ready_out_of_date(pod) or key not in self.starting and any(
            (s.get("state") or {}).get("waiting", {}).get("reason") == "ContainerCreating" for s in statuses)

    def _release(self, key) -> None:
        bound = self.bound.pop(key, None)
        if bound is None:
            return
        node, cpu, memory = bound
        self.pods_on.get(node, set()).discard(key)
        state = self.nodes.get(node)
        if state is not None:
            state.used_cpu -= cpu
            state.used_memory -= memory
            state.used_pods -= 1
        for waiting in list(self.unschedulable):  # capacity freed: try waiting pods again
            self.enqueue(waiting)

    def _node_event(self, type_, old, new) -> None:
        name = new["metadata"]["name"]
        if type_ == "DELETED":
            self.nodes.pop(name, None)
            self.node_order.remove(name)
            for key in list(self.pods_on.pop(name, ())):
                self.enqueue(("delete", key))  # pods of a vanished node are garbage-collected
            return
        state = self.nodes.get(name)
        if state is None:
            state = self.nodes[name] = NodeState(new)
            self.node_order.append(name)
            for key in self.pods_on.get(name, ()):
                _, cpu, memory = self.bound[key]
                state.used_cpu += cpu
                state.used_memory += memory
                state.used_pods += 1
        else:
            state.refresh(new)
        for waiting in list(self.unschedulable):
            self.enqueue(waiting)

    # -- reconcile ----------------------------------------------------------------------

    def reconcile(self, key) -> None:
        if key[0] == "delete":
            stored = self.store.get("pods", *key[1])
            if stored is not None:
                self.api.remove_now("pods", stored)
            return
        stored = self.store.get("pods", *key)
        if stored is None or not is_active(stored.obj):
            return
        pod = stored.obj
        if not (pod.get("spec") or {}).get("nodeName"):
            self._schedule(key, stored)
            return
        if not (pod.get("status") or {}).get("containerStatuses"):
            obj = stored.thaw()
            self._initialize(obj, obj["spec"]["nodeName"])
            saved = self.save("pods", obj, stored).obj
            self._begin_pulls(key, saved, saved["spec"]["containers"])
            self._arm_start(key, obj)
            return
        if self._restart_changed(key, stored):
            return
        if ready_out_of_date(pod):  # a readiness gate's condition changed: recompute Ready
            obj = stored.thaw()
            statuses = obj["status"]["containerStatuses"]
            obj["status"]["conditions"] = kubelet_conditions(obj, now_iso(), True, all(s.get("ready") for s in statuses))
            self.save("pods", obj, stored)
            return
        if key not in self.starting and self._needs_work(key, pod):
            self._arm_start(key, pod)

    def _pick(self, pod: dict) -> NodeState | None:
        cpu, memory = requests_of(pod.get("spec") or {})
        selector = (pod.get("spec") or {}).get("nodeSelector") or {}
        wanted = LabelSelector([Requirement(k, "=", (v,)) for k, v in selector.items()])
        count = len(self.node_order)
        for step in range(count):
            state = self.nodes[self.node_order[(self.cursor + step) % count]]
            if state.fits(cpu, memory) and wanted.matches(state.labels):
                self.cursor = (self.cursor + step + 1) % count
                return state
        return None

    def _schedule(self, key, stored) -> None:
        state = self._pick(stored.obj)
        obj = stored.thaw()
        if state is None:
            self.unschedulable.add(key)
            total = len(self.nodes)
            message = f"0/{total} nodes are available: {total} Insufficient resources or no matching node."
            status = obj.setdefault("status", {})
            if not any(c.get("type") == "PodScheduled" and c.get("status") == "False"
                       for c in status.get("conditions") or ()):
                status["phase"] = "Pending"
                status["conditions"] = kubelet_conditions(obj, now_iso(), False, False, message)
                stored = self.save("pods", obj, stored)
            self._scheduler_note(stored.obj, say.WARNING, "FailedScheduling", message, "Scheduling")
            return
        self.unschedulable.discard(key)
        obj["spec"]["nodeName"] = state.name
        self._initialize(obj, state.name)
        saved = self.save("pods", obj, stored).obj
        self._scheduler_note(saved, *say.scheduled(saved, state.name), "Binding")
        self._begin_pulls(key, saved, saved["spec"]["containers"])
        self._arm_start(key, obj)

    def _initialize(self, obj: dict, node_name: str) -> None:
        now = now_iso()
        state = self.nodes.get(node_name)
        self.ip_counter += 1
        n = self.ip_counter
        status = obj.setdefault("status", {})
        status.update({
            "phase": "Pending", "hostIP": state.ip if state else "", "startTime": now,
            "podIP": f"10.{128 + (n >> 16) % 128}.{n >> 8 & 255}.{n & 255}",
            "conditions": kubelet_conditions(obj, now, True, False),
            "containerStatuses": [_waiting(c, "ContainerCreating", 0) for c in obj["spec"].get("containers") or ()],
        })
        status["podIPs"] = [{"ip": status["podIP"]}]
        if state is not None:
            status["hostIPs"] = [{"ip": state.ip}]

    def _restart_changed(self, key, stored) -> bool:
        """In-place image change: restart the changed containers, keeping the pod's identity."""
        pod = stored.obj
        by_name = {s.get("name"): s for s in pod["status"].get("containerStatuses") or ()}
        if all(by_name.get(c.get("name"), {}).get("image") == c.get("image") for c in pod["spec"]["containers"]):
            return False
        obj = stored.thaw()
        now = now_iso()
        statuses = []
        changed = []
        for container in obj["spec"]["containers"]:
            have = by_name.get(container["name"])
            if have is None:
                statuses.append(_waiting(container, "ContainerCreating", 0))
                changed.append(container)
            elif have.get("image") != container.get("image"):
                changed.append(container)
                running = (have.get("state") or {}).get("running")
                if running is None:  # never started (a bad image): nothing to stop
                    statuses.append(_waiting(container, "ContainerCreating", have.get("restartCount", 0)))
                    continue
                last = {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": now,
                                       "startedAt": running.get("startedAt", now),
                                       "containerID": have.get("containerID", "")}}
                statuses.append(_waiting(container, "ContainerCreating", have.get("restartCount", 0) + 1, last))
                self._note(obj, container["name"], *say.definition_changed(container["name"]))
            else:
                statuses.append(have)
        obj["status"]["containerStatuses"] = statuses
        obj["status"]["conditions"] = kubelet_conditions(obj, now, True, False)
        saved = self.save("pods", obj, stored).obj
        self._begin_pulls(key, saved, changed)
        self.starting.pop(key, None)
        self._arm_start(key, obj)
        return True

    # -- events -------------------------------------------------------------------------

    def _note(self, pod: dict, container: str | None, type_: str, reason: str, message: str) -> None:
        node = (pod.get("spec") or {}).get("nodeName", "")
        self.events.record(pod, type_, reason, message, "kubelet", node,
                           say.field_path(container) if container else None)

    def _scheduler_note(self, pod: dict, type_: str, reason: str, message: str, action: str) -> None:
        self.events.record_new_api(pod, type_, reason, message, "default-scheduler", action,
                                   "default-scheduler-control-plane")

    def _stopped(self, pod: dict) -> None:
        """Killing events for the containers that were running when the pod went away."""
        for status in (pod.get("status") or {}).get("containerStatuses") or ():
            state = status.get("state") or {}
            if "running" in state or status.get("lastState"):
                self._note(pod, status["name"], *say.stopping(status["name"]))

    # -- timers -------------------------------------------------------------------------

    @staticmethod
    def _token(pod: dict) -> tuple:
        return (pod["metadata"]["uid"], tuple(c.get("image") for c in pod["spec"].get("containers") or ()))

    def _arm_start(self, key, pod: dict) -> None:
        token = self._token(pod)
        self.starting[key] = token
        self.timers.call_later(self.ready_delay, self._start, key, token)

    def _start(self, key, token) -> None:
        if self.starting.get(key) != token:
            return
        if self.puller.pending(key):  # its registry has not answered yet: start when it does
            self.puller.when_done(key, self._start, key, token)
            return
        del self.starting[key]
        stored = self.store.get("pods", *key)
        if stored is None or self._token(stored.obj) != token or not is_active(stored.obj):
            return
        self._bring_up(key, token, stored, 0, None)

    def _bring_up(self, key, token, stored, attempt: int, only: frozenset | None) -> None:
        """Start the pod's containers that are not running (``only`` those, when a pull is retried)."""
        obj = stored.thaw()
        now = now_iso()
        node = obj["spec"]["nodeName"]
        containers = {c["name"]: c for c in obj["spec"].get("containers") or ()}
        statuses = obj["status"].get("containerStatuses") or ()
        notes = []  # (container, type, reason, message), recorded once the pod is saved
        trouble = set()
        for status in statuses:
            name, image = status["name"], status.get("image", "")
            behaviour = image_behaviour(image)
            if only is not None and name not in only:
                continue
            if (status.get("state") or {}).get("waiting") is None and status.get("ready"):
                continue  # an untouched running container
            if behaviour == "unready" and "running" in (status.get("state") or {}):
                trouble.add("unready")
                continue
            outcome = self.puller.take(key, name, image)
            failure = pull_failure(image, outcome)
            if failure:
                trouble.add("pull")
                notes += self._fail_pull(key, status, image, failure)
                continue
            began = self.pulls.pop((key, name), None)
            notes.append((name, *say.pulled(image, None if began is None else time.monotonic() - began)))
            present = self.images.setdefault(node, {})
            pulled_id = present[image] = image_id(image, outcome, present.get(image) or _fake_image_id(image))
            notes += [(name, *say.created(name)), (name, *say.started(name))]
            if behaviour == "crashloop":
                trouble.add("crash")
                notes += [(name, *note) for note in say.liveness_failed(containers[name], obj)
                          if containers[name].get("livenessProbe")]
                self._crashed(status, now, pulled_id)
                notes.append((name, *say.crash_backoff(name, obj)))
                continue
            status.update(ready=behaviour != "unready", started=True, state={"running": {"startedAt": now}},
                          imageID=pulled_id,
                          containerID=_fake_id("containerd://", f"{key}{name}{now}{status.get('restartCount')}"))
            if behaviour == "unready":
                trouble.add("unready")
        obj["status"]["phase"] = pod_phase(statuses)
        obj["status"]["conditions"] = kubelet_conditions(obj, now, True, all(s.get("ready") for s in statuses))
        saved = self.save("pods", obj, stored).obj
        for name, *note in notes:
            self._note(saved, name, *note)
        # A retried pull joins loops that may already run for the pod's other containers.
        others = [s for s in statuses if only is not None and s["name"] not in only]
        if "crash" in trouble and not any(waiting_reason(s) == "CrashLoopBackOff" for s in others):
            self._crash_later(key, token, 1)
        self._after_pulls(key, token, attempt, only, "pull" in trouble, statuses)
        if "unready" in trouble and not any(image_behaviour(s.get("image", "")) == "unready" and s.get("started")
                                            for s in others):
            self._retry_later(key, token, self._probe_failed, 0)

    def _backoff(self, attempt: int) -> float:
        return min(max(self.ready_delay, 0.05) * (2 ** min(attempt, 12)), MAX_BACKOFF)

    @staticmethod
    def _crashed(status: dict, now: str, pulled_id: str) -> dict:
        restarts = status.get("restartCount", 0)
        started = ((status.get("state") or {}).get("running") or {}).get("startedAt", now)
        status.update(
            ready=False, started=False, restartCount=restarts + 1, imageID=pulled_id,
            lastState={"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started, "finishedAt": now}},
            state={"waiting": {"reason": "CrashLoopBackOff",
                               "message": f"back-off restarting failed container {status['name']}"}},
        )
        return status

    def _crash_later(self, key, token, attempt: int) -> None:
        self.timers.call_later(self._backoff(attempt), self._crash_again, key, token, attempt)

    def _current(self, key, token):
        stored = self.store.get("pods", *key)
        if stored is None or self._token(stored.obj) != token or key in self.starting or not is_active(stored.obj):
            return None
        return stored

    # -- probes that fail -------------------------------------------------------------------

    def _retry_later(self, key, token, step, attempt: int, delay: float | None = None) -> None:
        self.timers.call_later(self._backoff(attempt) if delay is None else delay, step, key, token, attempt)

    def _probe_failed(self, key, token, attempt: int) -> None:
        stored = self._current(key, token)
        if stored is None:
            return
        pod = stored.obj
        for status in pod["status"].get("containerStatuses") or ():
            if image_behaviour(status.get("image", "")) == "unready":
                self._note(pod, status["name"], *say.readiness_failed())
        # The probe's period (10 s by default), scaled like every other simulated delay.
        self._retry_later(key, token, self._probe_failed, attempt, delay=min(max(self.ready_delay, 0.05) * 5, 10.0))
