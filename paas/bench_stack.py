"""A throwaway copy of the product for benchmarks that need the real web process.

`Stack` gives a temporary directory with its own SQLite database (migrated), var dir, artifact
and registry storage, a tenant "bench" with a developer and a write API token, and one daphne at
a time started with the argv `runall` uses, so what is measured is the web process as deployed
(paas/http_server.py included). Its built-in registry answers at ``127.0.0.1:<port>`` (that
address is its REGISTRY_HOST). `Sampler` and `rss_kib` read a process's resident memory from /proc.

Used by the upload benchmark (applications/builds/bench.py: web RSS during a 500 MiB upload) and
the build benchmark (applications/oci/bench.py: the built-in registry as the push target).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

# Printed as one JSON line: the developer's API token (write scope: pushes to bench/*), the
# application artifacts are uploaded to, and a system registry token that may push platform/jre
# (base images are written by the platform, never by a tenant's token).
SETUP = """
import json
from applications.models import Application
from applications.registry.auth import MAX_TTL, issue_token
from django.contrib.auth import get_user_model
from paas.actors import Actor
from tenants import services
system = Actor.for_system("bench")
tenant = services.tenant_create(actor=system, name="Bench", slug="bench")
user = get_user_model().objects.create_user("bench-dev", password="bench-password-2026")
services.member_add(actor=system, tenant=tenant, user=user, role="developer")
app = Application.objects.create(tenant=tenant, name="upload-bench")
_token, secret = services.token_create(actor=Actor.for_user(user), tenant=tenant, name="bench", scope="write")
seed = issue_token(user=None, tenant=None, ttl=MAX_TTL, scopes=["repository:platform/jre:pull,push"])
print(json.dumps({"username": user.username, "token": secret, "app": app.pk, "seed_token": seed}))
"""


class BenchError(Exception):
    pass


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def baseline_rss_kib(pid: int, samples: int = 25, every: float = 0.02) -> float:
    """The median of a short series: one sample may catch a transient allocation."""
    values = []
    for _ in range(samples):
        values.append(rss_kib(pid))
        time.sleep(every)
    return statistics.median(values)


class Sampler:
    """Peak RSS of a process, sampled in a thread while the `with` block runs."""

    def __init__(self, pid: int, every: float = 0.02):
        self.pid, self.every = pid, every
        self.peak = rss_kib(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._done.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except (OSError, StopIteration):
                return
            time.sleep(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib(self.pid))
        return False


class Stack:
    """Temporary database, storage directories and one daphne at a time."""

    def __init__(self, out, prefix: str = "paas-bench-"):
        self.out = out
        self.tmp = Path(tempfile.mkdtemp(prefix=prefix))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "DJANGO_ALLOW_ASYNC_UNSAFE", "PAAS_TEST_SQLITE"))}
        for key in ("DATABASE_URL", "DATABASE_MIGRATE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
            env.pop(key, None)  # its own SQLite file; uploads and pushes need no Redis
        env.update({"DJANGO_SETTINGS_MODULE": "paas.settings", "DATABASE_URL": f"sqlite:///{self.tmp / 'db.sqlite3'}",
                    "PAAS_VAR_DIR": str(self.tmp / "var"), "BUILD_ARTIFACT_DIR": str(self.tmp / "artifacts"),
                    "REGISTRY_STORAGE_DIR": str(self.tmp / "registry"), "ALLOWED_HOSTS": "127.0.0.1,localhost",
                    "BUILD_ARTIFACT_MAX_BYTES": str(4 * 1024 ** 3), "PYTHONUNBUFFERED": "1"})
        self.env = env
        self.web = None
        self.port = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args, timeout=300) -> str:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=self.env,  # noqa: S603
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode:
            raise BenchError(f"manage.py {args[0]} failed: {result.stderr[-2000:]}")
        return result.stdout

    def setup(self) -> dict:
        """Migrate the temporary database and create the bench tenant; returns SETUP's answer."""
        started = time.monotonic()
        self.manage("migrate", "--noinput", "-v", "0")
        answer = json.loads(self.manage("shell", "-c", SETUP).strip().splitlines()[-1])
        self.out(f"  setup: temporary SQLite database migrated in {time.monotonic() - started:.0f} s")
        return answer

    def start_web(self, boot: str | None = None) -> int:
        """Start daphne as `runall` does; with ``boot``, daphne's options go to ``python -c boot``
        instead of ``python -m daphne`` (code that patches something first). Returns its pid."""
        from paas.management.commands.runall import child_specs
        from paas.supervisor import free_tcp_port

        self.port = free_tcp_port()
        argv = list(next(spec.argv for spec in child_specs("127.0.0.1", self.port, "default") if spec.name == "web"))
        if boot is not None:  # (python, "-m", "daphne", options...) -> (python, "-c", boot, options...)
            argv = [argv[0], "-c", boot, *argv[3:]]
        env = {**self.env, "REGISTRY_HOST": f"127.0.0.1:{self.port}"}
        self.web = subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL,  # noqa: S603
                                    stderr=open(self.tmp / "web.log", "ab"))  # noqa: SIM115
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise BenchError(f"daphne exited: {(self.tmp / 'web.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):  # noqa: S310
                    return self.web.pid
            except OSError:
                time.sleep(0.2)
        raise BenchError("daphne did not answer /healthz within 60 s")

    def stop_web(self):
        from paas.supervisor import stop_process

        if self.web is not None:
            stop_process(self.web)
            self.web = None

    def close(self):
        self.stop_web()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
