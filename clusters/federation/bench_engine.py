"""The engine as the benchmark runs it: like the Celery workers, not a loop in one thread.

Production runs one `federation.sync_cell` task per cell with due work, on worker
processes (prefork, one per core by default). Here a round does the same with a
pool of forked worker processes: each takes a cell, runs sync.sync_clusters over
its due clusters with its own database connection and cluster clients, and
reports what it did, the SQL statements and the Kubernetes API calls it cost.
Once the round is over the parent recomputes the touched totals once
(status.aggregate_pending), as the debounced aggregate task does.

The pool is forked before any other thread of the benchmark starts (a fork copies
only the forking thread; a lock held by another one would stay held in the child).
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from .bench_support import StatementCounter, peak_rss_mib

_counter: StatementCounter | None = None  # the parent's, inherited by every worker at fork


def _worker_start() -> None:
    """In each new worker: no connection or client shared with the parent."""
    import gc

    from django.db import connections
    from kubernetes.config import kube_config

    from clusters import kube

    for connection in connections.all(initialized_only=True):
        connection.connection = None  # the parent's session: dropped, never closed from here
    kube.clear_clients(close=False)
    # The client library writes a cluster's CA to a temporary file and deletes its files when the
    # process exits: a worker must not delete the parent's (TLS then failed with "no certificate").
    kube_config._temp_files = {}
    # As paas.celery does in every worker process: start-up objects out of the collector's reach.
    gc.collect()
    gc.freeze()


def _sync_cell(cluster_ids: list[int]) -> tuple[list[dict], int, int]:
    from clusters import kube

    from . import sync

    statements, calls = _counter.count if _counter else 0, kube.api_calls.total()
    reports = sync.sync_clusters(cluster_ids, aggregate=False)
    return ([r.as_dict() | {"recorded": r.recorded} for r in reports],
            (_counter.count if _counter else 0) - statements, kube.api_calls.total() - calls)


def _worker_figures(_ignored) -> tuple[int, float, int]:
    time.sleep(0.2)  # long enough for every worker to take one
    return os.getpid(), peak_rss_mib(), threading.active_count()


class Engine:
    """Sync rounds: one sync_cell per cell with due work, on `workers` worker processes."""

    def __init__(self, workers: int, counter: StatementCounter | None = None):
        from django.db import connections

        global _counter
        _counter = counter
        self.workers = workers
        self.statements = 0  # in the workers, since the last reset
        self.api_calls = 0
        connections.close_all()  # the workers open their own
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                                        initializer=_worker_start)
        for future in [self.pool.submit(time.sleep, 0.05) for _ in range(workers * 2)]:
            future.result()  # fork them all now, before the benchmark's threads start

    def reset_counts(self) -> None:
        self.statements = self.api_calls = 0

    def worker_figures(self) -> list[tuple[int, float, int]]:
        """(pid, peak RSS MiB, threads) of each worker process."""
        seen = {}
        for pid, rss, threads in self.pool.map(_worker_figures, range(self.workers * 2)):
            seen[pid] = (pid, rss, threads)
        return list(seen.values())

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def round(self) -> int:
        """One round; returns how many clusters it synced."""
        from . import status
        from .tasks import clusters_due

        cells: dict[int, list[int]] = {}
        for pk, cell_id in clusters_due().order_by("pk").values_list("pk", "cell_id"):
            cells.setdefault(cell_id, []).append(pk)
        recorded, synced = False, 0
        for reports, statements, calls in self.pool.map(_sync_cell, cells.values()):
            self.statements += statements
            self.api_calls += calls
            synced += len(reports)
            recorded = recorded or any(r["recorded"] for r in reports)
        if recorded:
            status.aggregate_pending()
        return synced

    def converge(self, timeout: float = 1800) -> int:
        from .models import Propagation

        deadline, rounds = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            self.round()
            rounds += 1
            if not Propagation.objects.filter(dirty=True).exists():
                return rounds
        raise RuntimeError("the engine did not converge")

    def sync_while(self, creating: threading.Event) -> None:
        """Rounds until creation has finished and nothing is dirty any more."""
        from django.db import connection

        from .models import Propagation

        try:
            while True:
                still_creating = creating.is_set()
                if not self.round():
                    time.sleep(0.02)
                if not still_creating and not Propagation.objects.filter(dirty=True).exists():
                    return
        finally:
            connection.close()
