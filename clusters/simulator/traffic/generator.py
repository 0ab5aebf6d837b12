"""Request generators: an asyncio task per generator sends ``rate`` requests a second to
a load balancer (``lb:<namespace>.<service>``), through the service registry
(``registry:<app>.<namespace>``) or by DNS name (``dns:<service>.<namespace>``).

Each request picks a backend as that provider would *now* (lagged view, operator's
weights and switches) and then meets the pod's *true* state as last watched: it fails
when the pod is not serving at that instant (not Ready, a container restarting, being
deleted, or gone). That gap between a provider's view and the truth is what a lossless
release closes by taking pods out of traffic before touching them.

Requests of one tick (20 ms) share one view of the routing table; a request to a
serving pod whose image has a metric fault is an application error with the fault's
error ratio.
"""
from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field

from .state import now

MAX_RATE = 5000.0
MAX_GENERATORS = 20
TICK = 0.02
TARGET_KINDS = ("lb", "registry", "dns")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")


class GeneratorError(ValueError):
    pass


def parse_spec(data) -> tuple[str, str, str, float]:
    """(name, target kind, target, rate) of a valid POST body."""
    if not isinstance(data, dict):
        raise GeneratorError("expected a JSON object")
    unknown = set(data) - {"name", "target", "rate"}
    if unknown:
        raise GeneratorError(f"unknown fields: {', '.join(sorted(unknown))}")
    name, target, rate = data.get("name"), data.get("target"), data.get("rate")
    if not isinstance(name, str) or not _NAME.match(name):
        raise GeneratorError("name must be 1-100 letters, digits, '.', '_' or '-'")
    if not isinstance(target, str) or ":" not in target:
        raise GeneratorError('target must be "lb:<namespace>.<service>", "registry:<service>" or "dns:<record>"')
    kind, _, ref = target.partition(":")
    if kind not in TARGET_KINDS or not _REF.match(ref):
        raise GeneratorError('target must be "lb:<namespace>.<service>", "registry:<service>" or "dns:<record>"')
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= MAX_RATE:
        raise GeneratorError(f"rate must be a number of requests per second above 0 and at most {MAX_RATE:g}")
    return name, kind, ref, float(rate)


@dataclass
class Generator:
    name: str
    kind: str
    ref: str
    rate: float
    sent: int = 0
    ok: int = 0
    failed: int = 0
    app_errors: int = 0
    failures_by_reason: dict = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    task: asyncio.Task | None = None
    rng: random.Random = field(default_factory=random.Random)

    @property
    def target(self) -> str:
        return f"{self.kind}:{self.ref}"

    def reset(self) -> None:
        self.sent = self.ok = self.failed = self.app_errors = 0
        self.failures_by_reason = {}
        self.started_at = time.time()

    def fail(self, reason: str, count: int = 1) -> None:
        self.sent += count
        self.failed += count
        self.failures_by_reason[reason] = self.failures_by_reason.get(reason, 0) + count

    def to_dict(self) -> dict:
        return {"name": self.name, "target": self.target, "rate": self.rate, "sent": self.sent, "ok": self.ok,
                "failed": self.failed, "app_errors": self.app_errors,
                "success_ratio": round(self.ok / self.sent, 6) if self.sent else 1.0,
                "failures_by_reason": dict(sorted(self.failures_by_reason.items())),
                "running": self.task is not None and not self.task.done(), "since": self.started_at}


class Generators:
    """The running generators; ``router(kind, ref, at)`` -> [(pod key, uid, weight)]."""

    def __init__(self, router, world, faults):
        self.router = router
        self.world = world
        self.faults = faults
        self.generators: dict[str, Generator] = {}

    def create(self, name: str, kind: str, ref: str, rate: float) -> Generator:
        if name in self.generators:
            raise KeyError(name)
        if len(self.generators) >= MAX_GENERATORS:
            raise GeneratorError(f"at most {MAX_GENERATORS} generators; delete one first")
        generator = Generator(name, kind, ref, rate)
        generator.task = asyncio.get_running_loop().create_task(self._run(generator), name=f"traffic-gen-{name}")
        self.generators[name] = generator
        return generator

    async def delete(self, name: str) -> Generator | None:
        generator = self.generators.pop(name, None)
        if generator is not None and generator.task is not None:
            generator.task.cancel()
            await asyncio.gather(generator.task, return_exceptions=True)
        return generator

    async def stop(self) -> None:
        for name in list(self.generators):
            await self.delete(name)

    async def _run(self, generator: Generator) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        due = 0.0
        while True:
            await asyncio.sleep(TICK)
            current = loop.time()
            due += generator.rate * min(current - last, 1.0)  # a stalled loop does not burst
            last = current
            count = int(due)
            due -= count
            if count:
                self.send(generator, count, now())

    def send(self, generator: Generator, count: int, at: float) -> None:
        choices = self.router(generator.kind, generator.ref, at)
        if not choices:
            generator.fail("no healthy backend", count)
            return
        weights = [weight for _, _, weight in choices]
        for key, uid, _ in generator.rng.choices(choices, weights=weights, k=count):
            pod, reason = self.world.pod_status(key, uid)
            if reason:
                generator.fail(reason)
                continue
            generator.sent += 1
            fault = self.faults.for_images(pod.images.values())
            if fault is not None and fault.error_ratio and generator.rng.random() < fault.error_ratio:
                generator.app_errors += 1
            else:
                generator.ok += 1
