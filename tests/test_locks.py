"""paas.locks: one holder at a time, and a lock that dies with its holder.

The process tests hold a lock in a child process and SIGKILL it, as the OOM killer
or an operator would kill a worker mid-sync: the lock must be free at once, not
after a TTL. On PostgreSQL (DATABASE_URL set) this is the advisory-lock path, on
SQLite the flock path.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from paas import locks

ROOT = Path(__file__).resolve().parents[1]

HOLDER = """
import os, sys, time
import django
django.setup()
from django.db import connections
connections["default"].settings_dict["NAME"] = sys.argv[1]  # the parent's test database
from paas import locks
with locks.held(sys.argv[2], int(sys.argv[3])) as acquired:
    print("acquired" if acquired else "busy", flush=True)
    time.sleep(600)
"""


def hold_in_child(name: str, key: int) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "paas.settings"}
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", HOLDER, str(connection.settings_dict["NAME"]), name, str(key)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline().strip()
    assert line == "acquired", f"the child could not take the lock: {line!r}"
    return child


def acquire_within(name: str, key: int, timeout: float) -> float | None:
    """Seconds until the lock could be taken here, or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        with locks.held(name, key) as acquired:
            if acquired:
                return time.monotonic() - start
        time.sleep(0.05)
    return None


def test_a_held_lock_excludes_another_holder_until_released(db):
    with locks.held("test.lock", 1) as first:
        assert first is True
        with locks.held("test.lock", 1) as second:
            assert second is False
        with locks.held("test.lock", 2) as other_key, locks.held("test.other", 1) as other_name:
            assert other_key is True and other_name is True
    with locks.held("test.lock", 1) as again:
        assert again is True


def test_a_lock_held_by_a_killed_process_is_free_at_once(transactional_db):
    child = hold_in_child("test.killed", 7)
    try:
        with locks.held("test.killed", 7) as acquired:
            assert acquired is False  # another process really holds it
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    waited = acquire_within("test.killed", 7, timeout=30)
    # The cache lock this replaces stayed taken for its whole 150 s TTL.
    assert waited is not None and waited < 5, f"lock still held {waited}s after its holder was killed"


def test_a_lock_is_released_when_its_holder_ends_normally(transactional_db):
    child = hold_in_child("test.ended", 3)
    child.terminate()
    child.wait(timeout=10)
    assert acquire_within("test.ended", 3, timeout=5) is not None


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql"])
def test_the_lock_kind_follows_the_database(vendor, db, monkeypatch):
    used = []
    monkeypatch.setattr(locks, "_advisory_lock", lambda *a: used.append("advisory") or _null())
    monkeypatch.setattr(locks, "_file_lock", lambda *a: used.append("file") or _null())
    monkeypatch.setattr(connection, "vendor", vendor)
    with locks.held("test.kind", 1):
        pass
    assert used == (["advisory"] if vendor == "postgresql" else ["file"])


def _null():
    from contextlib import nullcontext

    return nullcontext(True)


def test_held_many_takes_the_free_keys_and_skips_those_held_elsewhere(transactional_db):
    child = hold_in_child("test.many", 2)
    try:
        with locks.held_many("test.many", [3, 1, 2, 2]) as mine:
            assert mine == [1, 3]  # 2 is held by the child; duplicates count once
            with locks.held("test.many", 1) as again:
                assert again is False  # really held while the block runs
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    with locks.held_many("test.many", [1, 3]) as mine:
        assert mine == [1, 3]  # released when the block ended


def test_held_many_on_postgresql_uses_one_connection(transactional_db, monkeypatch):
    if connection.vendor != "postgresql":
        from django.db import connections

        opened = []
        monkeypatch.setattr(connections, "create_connection", lambda alias: opened.append(alias))
        with locks.held_many("test.one", [1, 2, 3]) as mine:
            assert mine == [1, 2, 3]
        assert opened == []  # SQLite: file locks, no connection at all
        return
    from django.db import connections

    real, opened = connections.create_connection, []
    monkeypatch.setattr(connections, "create_connection", lambda alias: opened.append(alias) or real(alias))
    with locks.held_many("test.one", [1, 2, 3]) as mine:
        assert mine == [1, 2, 3]
    assert len(opened) == 1
