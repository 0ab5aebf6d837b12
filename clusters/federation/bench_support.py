"""What the federation benchmark needs around the engine: a simulator in a child
process, a throwaway database, and counters for SQL statements, threads, file
descriptors and memory. Every temporary directory (the simulator's holds
kubeconfigs with bearer tokens) is removed when the benchmark ends, failed or not.
"""
from __future__ import annotations

import ctypes
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from clusters.simulator.bench import free_port_block

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def temporary_directory(prefix: str):
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def simulator(count: int, *, port_base: int = 0, processes: int = 1):
    """C simulated clusters in a child process (or `processes` of them); yields {name: kubeconfig path}."""
    port = port_base or free_port_block(count + 1)
    names = [f"bench-{i + 1}" for i in range(count)]
    with temporary_directory("fed-bench-") as state:
        argv = [sys.executable, "-m", "clusters.simulator", "--clusters", str(count), "--port", str(port),
                "--admin-port", str(port + count), "--state-dir", str(state), "--names", ",".join(names),
                "--ready-delay", "0.5", "--nodes-per-cluster", "3"]
        if processes > 1:
            argv += ["--processes", str(processes)]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # noqa: S603 - our own interpreter
                                   text=True, cwd=ROOT)
        try:
            for _ in range(count + 1):
                if not process.stdout.readline():
                    raise RuntimeError(f"simulator did not start: {process.stderr.read()[-2000:]}")
            yield {name: state / f"{name}.kubeconfig" for name in names}
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@contextmanager
def throwaway_database():
    """A fresh, migrated database (SQLite: a file in a temporary directory, so threads share it)."""
    from django.db import connection

    with temporary_directory("fed-bench-db-") as directory:
        if connection.vendor == "sqlite":
            connection.settings_dict.setdefault("TEST", {})["NAME"] = str(directory / "bench.sqlite3")
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            yield
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)


class StatementCounter:
    """SQL statements sent by every thread of this process (a wrapper on Django's cursor)."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        self._original = None

    def reset(self) -> None:
        with self.lock:
            self.count = 0

    def __enter__(self):
        from django.db.backends import utils

        counter, original = self, utils.CursorWrapper._execute_with_wrappers
        self._original = original

        def counted(cursor, sql, params, many, executor):
            with counter.lock:
                counter.count += 1
            return original(cursor, sql, params, many, executor)

        utils.CursorWrapper._execute_with_wrappers = counted
        return self

    def __exit__(self, *exc):
        from django.db.backends import utils

        utils.CursorWrapper._execute_with_wrappers = self._original


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_mib() -> float:
    return _status_kib("VmRSS") / 1024


def peak_rss_mib() -> float:
    return _status_kib("VmHWM") / 1024


def open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def release_memory() -> None:
    """Return freed memory to the system: collect, then ask glibc to trim its heaps."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the collector's work is all there is
        pass


class ResourceMonitor:
    """Peak threads, open file descriptors and RSS of this process, sampled in the background."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.peak_threads = self.peak_fds = 0
        self.peak_rss_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_loop, name="bench-monitor", daemon=True)

    def sample(self) -> None:
        self.peak_threads = max(self.peak_threads, threading.active_count())
        self.peak_fds = max(self.peak_fds, open_fds())
        self.peak_rss_mib = max(self.peak_rss_mib, rss_mib())

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.sample()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def elapsed_since(started: float) -> float:
    return time.perf_counter() - started
