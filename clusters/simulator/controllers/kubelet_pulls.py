"""The kubelet's image pulls: Pulling events, registry checks, ErrImagePull and ImagePullBackOff.

A mixin of ``Kubelet`` (kept apart so the pod lifecycle in ``kubelet.py`` stays readable).

An image fails to pull when its tag says so (``unpullable``/``notfound``, no registry
asked) or when the registry it names answers that it does not have it or refuses the
pod's credentials (``imagepull.Puller``). A failed container waits in ``ErrImagePull``,
moments later in ``ImagePullBackOff``, and is pulled again after Kubernetes' back-off:
``KUBESIM_IMAGE_PULL_BACKOFF`` seconds (10 by default, as the kubelet's) doubling up to
five minutes. One back-off runs per pod (its "pull chain"), for all of its failing
containers; a pull that succeeds starts the container the way a first start does.

A running container is never checked again (its tag may vanish from the registry: it keeps
running, as on a real node); a crash-looping container is pulled again before each
restart only when its imagePullPolicy is Always, so a vanished image stops its loop at
ErrImagePull.
"""
from __future__ import annotations

import os
import time

from ..apiserver import now_iso
from ..imageref import parse
from . import kubelet_events as say
from .podutil import image_behaviour, pod_phase

MAX_PULL_BACKOFF = 300.0
PULL_ERRORS = ("ErrImagePull", "ImagePullBackOff")


def pull_backoff_base() -> float:
    try:
        return max(float(os.environ.get("KUBESIM_IMAGE_PULL_BACKOFF", 10.0)), 0.0)
    except ValueError:
        return 10.0


def waiting_reason(status: dict) -> str:
    return ((status.get("state") or {}).get("waiting") or {}).get("reason", "")


def image_id(image: str, outcome, fallback: str) -> str:
    """What containerd reports once it has the image: ``<host>/<repository>@<digest>``."""
    ref = parse(image)
    if outcome is not None and outcome.kind == "pulled" and outcome.digest and ref is not None:
        return f"{ref.host}/{ref.repository}@{outcome.digest}"
    return fallback


def pull_failure(image: str, outcome) -> str:
    """The pull error for ``image`` ("" when it pulls), from its tag or the registry's answer."""
    if image_behaviour(image) == "unpullable":
        return say.pull_error_message(image)
    if outcome is None or outcome.kind in ("pulled", "unreachable"):
        return ""
    if outcome.kind == "notfound":
        return say.pull_error_message(image)
    return say.pull_error_message(image, outcome.detail, code="Unknown")


class ImagePulls:
    """Part of ``Kubelet``: uses its ``puller``, ``pulls``, ``pull_chains``, ``images``, ``_current``,
    ``_bring_up``, ``_crash_later``, ``_note`` and the Controller helpers."""

    def _pull_delay(self, attempt: int) -> float:
        return min(self.pull_backoff * (2 ** min(attempt, 16)), MAX_PULL_BACKOFF)

    def _short_delay(self) -> float:
        return max(self.ready_delay, 0.05)

    def _begin_pull(self, key, pod: dict, container: dict) -> None:
        self.pulls[(key, container["name"])] = time.monotonic()
        self._note(pod, container["name"], *say.pulling(container.get("image", "")))
        if image_behaviour(container.get("image", "")) != "unpullable":  # its tag already says how it ends
            self.puller.start(key, pod, container)

    def _begin_pulls(self, key, pod: dict, containers) -> None:
        present = self.images.get(pod["spec"]["nodeName"], {})
        for container in containers:
            if say.needs_pull(container, present):
                self._begin_pull(key, pod, container)

    def _fail_pull(self, key, status: dict, image: str, message: str) -> list[tuple]:
        """Put a container in ErrImagePull; returns the events to record once the pod is saved."""
        self.pulls.pop((key, status["name"]), None)
        status.update(ready=False, started=False,
                      state={"waiting": {"reason": "ErrImagePull", "message": message}})
        return [(status["name"], *note) for note in say.pull_failed(image, message)]

    def _pull_failed(self, key, token, attempt: int, continuing: bool) -> None:
        """After a failed pull: start the pod's back-off, or take its next step."""
        if not continuing and self.pull_chains.get(key) == token:
            return  # the running back-off picks this container up too
        self.pull_chains[key] = token
        self.timers.call_later(self._short_delay(), self._pull_backoff, key, token, attempt)

    def _after_pulls(self, key, token, attempt: int, retried: frozenset | None, failed: bool, statuses) -> None:
        """At the end of a start: begin, continue or end the pod's back-off."""
        if retried is None:
            if failed:
                self._pull_failed(key, token, 0, continuing=False)
        elif any(waiting_reason(s) in PULL_ERRORS for s in statuses):
            self._pull_failed(key, token, attempt, continuing=True)
        elif self.pull_chains.get(key) == token:
            del self.pull_chains[key]

    def _chain(self, key, token):
        stored = self._current(key, token)
        if stored is None or self.pull_chains.get(key) != token:
            if self.pull_chains.get(key) == token:
                del self.pull_chains[key]
            return None
        return stored

    def _pull_backoff(self, key, token, attempt: int) -> None:
        """ErrImagePull turns into ImagePullBackOff until the next attempt."""
        stored = self._chain(key, token)
        if stored is None:
            return
        obj = stored.thaw()
        failing = []
        for status in obj["status"].get("containerStatuses") or ():
            if waiting_reason(status) == "ErrImagePull":
                image = status.get("image", "")
                error = status["state"]["waiting"].get("message", "")
                status["state"] = {"waiting": {"reason": "ImagePullBackOff",
                                               "message": say.pull_backoff_message(image, error)}}
                failing.append((status["name"], image))
        if not any(waiting_reason(s) in PULL_ERRORS for s in obj["status"].get("containerStatuses") or ()):
            del self.pull_chains[key]
            return
        saved = self.save("pods", obj, stored).obj
        for name, image in failing:
            for note in say.pull_backoff(image):
                self._note(saved, name, *note)
        wait = max(self._pull_delay(attempt) - self._short_delay(), 0.0)
        self.timers.call_later(wait, self._pull_again, key, token, attempt)

    def _pull_again(self, key, token, attempt: int) -> None:
        stored = self._chain(key, token)
        if stored is None:
            return
        pod = stored.obj
        containers = {c["name"]: c for c in pod["spec"].get("containers") or ()}
        again = frozenset(s["name"] for s in pod["status"].get("containerStatuses") or ()
                          if waiting_reason(s) in PULL_ERRORS and s["name"] in containers)
        if not again:
            del self.pull_chains[key]
            return
        for name in sorted(again):
            self._begin_pull(key, pod, containers[name])
        self.puller.when_done(key, self._pulled_again, key, token, attempt + 1, again)

    def _pulled_again(self, key, token, attempt: int, names: frozenset) -> None:
        stored = self._chain(key, token)
        if stored is not None:
            self._bring_up(key, token, stored, attempt, names)

    # -- crash-looping containers restart: with imagePullPolicy Always, after pulling again ----

    def _crash_again(self, key, token, attempt: int) -> None:
        """The next restart of the crash-looping containers; with imagePullPolicy Always the
        kubelet pulls again first, so an image gone from its registry stops the loop there."""
        stored = self._current(key, token)
        if stored is None:
            return
        pod = stored.obj
        statuses = {s["name"]: s for s in pod["status"].get("containerStatuses") or ()}
        for container in pod["spec"].get("containers") or ():
            crashing = image_behaviour(container.get("image", "")) == "crashloop"
            if (crashing and container.get("imagePullPolicy") == "Always"
                    and waiting_reason(statuses.get(container["name"], {})) not in PULL_ERRORS):
                self._begin_pull(key, pod, container)
        self.puller.when_done(key, self._restart_crashed, key, token, attempt)

    def _restart_crashed(self, key, token, attempt: int) -> None:
        stored = self._current(key, token)
        if stored is None:
            return
        obj = stored.thaw()
        now = now_iso()
        restarted, notes, failed = [], [], False
        for status in obj["status"].get("containerStatuses") or ():
            name, image = status["name"], status.get("image", "")
            if image_behaviour(image) != "crashloop" or waiting_reason(status) in PULL_ERRORS:
                continue
            outcome = self.puller.take(key, name, image)
            failure = pull_failure(image, outcome)
            if failure:
                notes += self._fail_pull(key, status, image, failure)
                failed = True
                continue
            began = self.pulls.pop((key, name), None)
            status["restartCount"] = status.get("restartCount", 0) + 1
            status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now,
                                                  "finishedAt": now}}
            status["imageID"] = image_id(image, outcome, status.get("imageID", ""))
            restarted.append(name)
            took = None if began is None else time.monotonic() - began
            notes += [(name, *note) for note in (say.pulled(image, took), say.created(name), say.started(name))]
        if not notes:
            return
        obj["status"]["phase"] = pod_phase(obj["status"]["containerStatuses"])
        saved = self.save("pods", obj, stored).obj
        for name, *note in notes:
            self._note(saved, name, *note)
        for name in restarted:
            self._note(saved, name, *say.crash_backoff(name, saved))
        if restarted:
            self._crash_later(key, token, attempt + 1)
        if failed:
            self._pull_failed(key, token, 0, continuing=False)
