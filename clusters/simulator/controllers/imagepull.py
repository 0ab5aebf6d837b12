"""The kubelet's registry checks, off the event loop.

When a pull begins the kubelet calls ``start``: the image's registry is asked
(``registryprobe``) on a small worker pool while the simulated start-up delay runs; when
the container is due to start, ``when_done`` runs the start once every check of that pod
has answered (at once if none is pending) and ``take`` hands out each container's answer.

Images that name no registry (Docker Hub), that a registry recently failed to answer for,
or all images when ``KUBESIM_IMAGE_CHECK=0``, are not checked: they start as before, so
demos and benchmarks never wait on a network. Pods asking for the same image with the same
credentials at the same time share one request (a 100-replica rollout asks once).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from ..imageref import credentials, parse
from ..registryprobe import Outcome, RegistryProbe, checks_enabled, shared_probe

log = logging.getLogger("clusters.simulator")

WORKERS = 4

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="kubesim-registry")
        return _executor


class _Check:
    __slots__ = ("image", "outcome")

    def __init__(self, image: str, outcome: Outcome | None = None):
        self.image = image
        self.outcome = outcome  # None while the registry is being asked


class Puller:
    def __init__(self, loop: asyncio.AbstractEventLoop, store, probe: RegistryProbe | None = None):
        self.loop = loop
        self.store = store
        self.enabled = checks_enabled()
        self.probe = probe or shared_probe()
        self.checks: dict[tuple, dict[str, _Check]] = {}  # pod key -> container -> its check
        self.waiters: dict[tuple, list] = {}  # pod key -> [(fn, args)] to run once its checks answered
        self.inflight: dict[tuple, asyncio.Future] = {}  # (image, credentials) -> the shared request

    def _secrets(self, pod: dict) -> dict[str, dict]:
        namespace = pod["metadata"].get("namespace", "")
        found = {}
        for item in (pod.get("spec") or {}).get("imagePullSecrets") or ():
            name = item.get("name") if isinstance(item, dict) else None
            stored = self.store.get("secrets", namespace, name) if isinstance(name, str) and name else None
            if stored is not None:
                found[name] = stored.obj
        return found

    def start(self, key, pod: dict, container: dict) -> None:
        """Begin checking ``container``'s image, replacing any earlier check of that container."""
        name, image = container.get("name"), container.get("image", "")
        ref = parse(image)
        by_name = self.checks.setdefault(key, {})
        if not self.enabled or ref is None or ref.on_docker_hub:
            by_name.pop(name, None)
            return
        check = by_name[name] = _Check(image)
        if self.probe.known_down(ref.host):
            check.outcome = Outcome("unreachable")
            return
        offered = credentials(pod, self._secrets(pod), ref)
        shared = (image, tuple((c.username, c.password) for c in offered))
        future = self.inflight.get(shared)
        if future is None:
            future = self.loop.run_in_executor(_pool(), self.probe.check, ref, offered)
            self.inflight[shared] = future
            future.add_done_callback(lambda _, shared=shared: self.inflight.pop(shared, None))
        future.add_done_callback(partial(self._answered, key, check))

    def _answered(self, key, check: _Check, future: asyncio.Future) -> None:
        try:
            check.outcome = future.result()
        except Exception:  # a bug in the probe must not leave the pod waiting forever
            log.exception("registry check of %s failed; assuming the image is present", check.image)
            check.outcome = Outcome("unreachable")
        if not self.pending(key):  # (a replaced check may answer last: the pod waits no more either way)
            for fn, args in self.waiters.pop(key, ()):
                try:
                    fn(*args)
                except Exception:
                    log.exception("kubelet step after a registry check failed")

    def pending(self, key) -> bool:
        return any(check.outcome is None for check in self.checks.get(key, {}).values())

    def when_done(self, key, fn, *args) -> None:
        """Run ``fn(*args)`` now if no check of the pod is pending, else once they all answered."""
        if self.pending(key):
            self.waiters.setdefault(key, []).append((fn, args))
        else:
            fn(*args)

    def take(self, key, name: str, image: str) -> Outcome | None:
        """The answer about ``name``'s image (None: not checked); each answer is used once."""
        by_name = self.checks.get(key)
        check = by_name.pop(name, None) if by_name else None
        if by_name is not None and not by_name:
            del self.checks[key]
        if check is None or check.image != image:
            return None
        return check.outcome

    def forget(self, key) -> None:
        self.checks.pop(key, None)
        self.waiters.pop(key, None)
