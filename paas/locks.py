"""Locks that die with their holder: "one run at a time" for work that may be killed.

A lock kept in the cache with a TTL outlives a SIGKILLed worker by that TTL, and
every retry in between skips: after a worker was killed mid-sync, a cluster waited
out the whole 150 s TTL before anything converged again. These locks are released
by the operating system or the database server the moment their holder is gone:

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) taken on a
  connection opened for this lock alone and closed when the work ends. When the
  worker process dies its socket is closed by the kernel, the server ends the
  session, and the lock goes with it. A dedicated connection, not the thread's
  Django connection: that one is closed and reopened by Django on its own
  schedule (CONN_MAX_AGE, health checks, errors), which would drop the lock
  mid-run, or keep it after the run when a release is missed. (Session-level locks
  need a session per client: PgBouncer in transaction-pooling mode would break them.)
- SQLite (development, one machine by definition): an exclusive `flock` on a file
  under VAR_DIR/locks. The kernel releases it when the holder's file descriptor
  is closed, which includes the process dying. flock locks belong to the open file
  description, so two threads of one process exclude each other too.

If a PostgreSQL connection drops while the work goes on (a network blip) the lock
is lost and a second run may start: the work guarded here is idempotent, so that
costs time, never correctness.
"""
from __future__ import annotations

import hashlib
import os
import threading
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections


def _namespace(name: str) -> int:
    """A stable 31-bit number for a lock name (pg advisory locks take two int4 keys)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


@contextmanager
def _advisory_lock(alias: str, name: str, key: int) -> Iterator[bool]:
    conn = connections.create_connection(alias)  # a connection of its own, see the module docstring
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_namespace(name), int(key)])
            acquired = bool(cursor.fetchone()[0])
        conn.commit()  # leave no transaction open for the duration of the work
        yield acquired
    finally:
        # Closing the session releases the lock; no explicit unlock that could be missed.
        conn.close()


def lock_dir() -> str:
    path = os.path.join(str(settings.VAR_DIR), "locks")
    os.makedirs(path, exist_ok=True)
    return path


def _lock_file(alias: str, name: str, key: int) -> str:
    # The database name is part of the file name: two databases (e.g. parallel test
    # runs) with the same primary keys must not share locks.
    database = str(connections[alias].settings_dict.get("NAME", ""))
    digest = hashlib.sha256(f"{database}\0{name}\0{key}".encode()).hexdigest()[:32]
    return os.path.join(lock_dir(), f"{digest}.lock")


@contextmanager
def _file_lock(alias: str, name: str, key: int) -> Iterator[bool]:
    import fcntl

    fd = os.open(_lock_file(alias, name, key), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the flock (and so does the process dying)


@contextmanager
def held(name: str, key: int, *, alias: str = DEFAULT_DB_ALIAS) -> Iterator[bool]:
    """`with held("federation.sync", cluster_id) as acquired:` — acquired is False when
    another process or thread holds it; never waits."""
    if connections[alias].vendor == "postgresql":
        manager = _advisory_lock(alias, name, key)
    else:
        manager = _file_lock(alias, name, key)
    with manager as acquired:
        yield acquired


@contextmanager
def held_many(name: str, keys, *, alias: str = DEFAULT_DB_ALIAS) -> Iterator[list[int]]:
    """`with held_many("federation.sync", cluster_ids) as mine:` — the keys this caller got
    (the others are held elsewhere); never waits. On PostgreSQL all of them on one session
    of its own, so a cell with twenty clusters costs one connection, not twenty."""
    keys = sorted(set(int(k) for k in keys))
    if connections[alias].vendor != "postgresql":
        with ExitStack() as stack:
            yield [k for k in keys if stack.enter_context(_file_lock(alias, name, k))]
        return
    conn = connections.create_connection(alias)
    try:
        mine = []
        with conn.cursor() as cursor:
            for key in keys:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_namespace(name), key])
                if cursor.fetchone()[0]:
                    mine.append(key)
        conn.commit()
        yield mine
    finally:
        conn.close()  # releases every lock of the session


_sqlite_writers = threading.Lock()


@contextmanager
def write_turn(alias: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Around a write transaction that threads of one process run side by side (cluster syncs).
    SQLite lets one writer in at a time and makes the others poll with sleeps that grow to
    100 ms (its busy handler); queueing here instead hands the turn over at once. Other
    processes still meet the busy timeout. PostgreSQL locks rows, not the file: no-op."""
    if connections[alias].vendor != "sqlite":
        yield
        return
    with _sqlite_writers:
        yield
