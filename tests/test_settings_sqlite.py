"""SQLite gets the project's options (busy timeout, BEGIN IMMEDIATE, WAL) however it is
chosen: by default, or by DATABASE_URL=sqlite:///... (which used to drop them, so three
clusters syncing at once failed with "database is locked")."""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOW = ("import django, json; django.setup(); from django.conf import settings; from django.db import connection; "
        "d = settings.DATABASES['default']; cursor = connection.cursor(); "
        "print(json.dumps({'options': d.get('OPTIONS', {}), 'journal': cursor.execute('PRAGMA journal_mode')"
        ".fetchone()[0], 'busy': cursor.execute('PRAGMA busy_timeout').fetchone()[0]}))")


def _settings(**env) -> dict:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_MIGRATE_URL")}
    full_env.update(env, DJANGO_SETTINGS_MODULE="paas.settings")
    result = subprocess.run([sys.executable, "-c", SHOW], cwd=ROOT, env=full_env, capture_output=True, text=True,
                            timeout=60, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_database_url_sqlite_keeps_the_project_sqlite_options(tmp_path):
    shown = _settings(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert shown["options"]["transaction_mode"] == "IMMEDIATE"
    assert shown["options"]["timeout"] >= 30
    assert shown["journal"] == "wal" and shown["busy"] >= 30_000


def test_concurrent_writers_wait_instead_of_failing(tmp_path):
    """Two connections writing at once with the project's options: the second waits its turn."""
    import sqlite3

    from django.conf import settings

    path = tmp_path / "locks.sqlite3"
    options = settings.SQLITE_OPTIONS

    def connect():
        conn = sqlite3.connect(path, timeout=options["timeout"], isolation_level=None, check_same_thread=False)
        conn.executescript(options["init_command"])
        return conn

    setup = connect()
    setup.execute("CREATE TABLE t (n INTEGER)")
    errors, started = [], threading.Event()

    def writer(hold: float):
        conn = connect()
        try:
            conn.execute(f"BEGIN {options['transaction_mode']}")
            started.set()
            conn.execute("INSERT INTO t VALUES (1)")
            threading.Event().wait(hold)
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            errors.append(str(exc))

    first = threading.Thread(target=writer, args=(0.5,))
    first.start()
    started.wait(5)
    second = threading.Thread(target=writer, args=(0,))
    second.start()
    first.join(10)
    second.join(10)
    assert errors == []
    assert setup.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 2
