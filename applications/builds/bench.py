"""`manage.py bench --only upload`: memory of the web process during a large artifact upload.

A real daphne (argv as `runall` starts it) on a free port, its own temporary SQLite database
and artifact directory; a 500 MiB artifact (seeded random bytes) PUT through the API
(`/api/v1/applications/<id>/artifacts/`, raw body, with its expected SHA-256) by an API
token. The web process's RSS is sampled from /proc every 20 ms: the baseline (after a small
warm-up upload) and the peak during the upload, so the table shows whether memory stays
flat, plus the upload's throughput. With --upload-compare the same upload runs against daphne
as shipped (without paas/http_server.py), which queues the whole body in memory first.
"""
import hashlib
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

MIB = 1024 * 1024
PROJECT = Path(__file__).resolve().parents[2]

SETUP = """
import json
from applications.models import Application
from django.contrib.auth import get_user_model
from paas.actors import Actor
from tenants import services
system = Actor.for_system("bench")
tenant = services.tenant_create(actor=system, name="Bench", slug="bench")
user = get_user_model().objects.create_user("bench-dev", password="bench-password-2026")
services.member_add(actor=system, tenant=tenant, user=user, role="developer")
app = Application.objects.create(tenant=tenant, name="upload-bench")
_token, secret = services.token_create(actor=Actor.for_user(user), tenant=tenant, name="bench", scope="write")
print(json.dumps({"token": secret, "app": app.pk}))
"""


# daphne as shipped: the product with paas.http_server.install() made a no-op before paas.asgi calls it.
AS_SHIPPED = """
import paas.http_server
paas.http_server.install = lambda: None
from daphne.cli import CommandLineInterface
CommandLineInterface.entrypoint()
"""


class BenchError(Exception):
    pass


def add_arguments(parser) -> None:
    group = parser.add_argument_group("upload (web process memory during an artifact upload, issue 10)")
    group.add_argument("--upload-mib", type=int, default=500, help="artifact size in MiB (default 500)")
    group.add_argument("--upload-compare", action="store_true",
                       help="also measure daphne as shipped (its whole-body queue; needs that much memory)")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


class Sampler:
    """Peak RSS of a process, sampled in a thread."""

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


def _blocks(mib: int, seed: int = 10):
    """The artifact: `mib` blocks of 1 MiB from a seeded generator (incompressible, reproducible)."""
    rng = random.Random(seed)
    block = rng.randbytes(MIB)
    for i in range(mib):
        # A different block each MiB without generating 500 MiB of randomness: rotate the seed block.
        shift = (i * 4099) % MIB
        yield block[shift:] + block[:shift]


def _sha256(mib: int) -> str:
    sha = hashlib.sha256()
    for block in _blocks(mib):
        sha.update(block)
    return sha.hexdigest()


def _put(port: int, token: str, app: int, mib: int, sha: str, name: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.putrequest("PUT", f"/api/v1/applications/{app}/artifacts/?filename={name}")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", str(mib * MIB))
    connection.putheader("X-Checksum-Sha256", sha)
    connection.endheaders()
    for block in _blocks(mib):
        connection.send(block)
    response = connection.getresponse()
    body = json.loads(response.read() or b"{}")
    connection.close()
    return response.status, body


class Stack:
    """Temporary database, artifact directory and one daphne at a time."""

    def __init__(self, out):
        self.out = out
        self.tmp = Path(tempfile.mkdtemp(prefix="paas-bench-upload-"))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "DJANGO_ALLOW_ASYNC_UNSAFE", "PAAS_TEST_SQLITE"))}
        for key in ("DATABASE_URL", "DATABASE_MIGRATE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
            env.pop(key, None)  # its own SQLite file; no Redis needed by an upload
        env.update({"DJANGO_SETTINGS_MODULE": "paas.settings", "DATABASE_URL": f"sqlite:///{self.tmp / 'db.sqlite3'}",
                    "PAAS_VAR_DIR": str(self.tmp / "var"), "BUILD_ARTIFACT_DIR": str(self.tmp / "artifacts"),
                    "BUILD_ARTIFACT_MAX_BYTES": str(4 * 1024 * MIB), "PYTHONUNBUFFERED": "1"})
        self.env = env
        self.web = None
        self.port = None

    def manage(self, *args, timeout=300) -> str:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=self.env,  # noqa: S603
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode:
            raise BenchError(f"manage.py {args[0]} failed: {result.stderr[-2000:]}")
        return result.stdout

    def setup(self) -> dict:
        started = time.monotonic()
        self.manage("migrate", "--noinput", "-v", "0")
        answer = json.loads(self.manage("shell", "-c", SETUP).strip().splitlines()[-1])
        self.out(f"  setup: temporary SQLite database migrated in {time.monotonic() - started:.0f} s")
        return answer

    def start_web(self, chunked: bool) -> int:
        from paas.management.commands.runall import child_specs
        from paas.supervisor import free_tcp_port

        self.port = free_tcp_port()
        argv = list(next(spec.argv for spec in child_specs("127.0.0.1", self.port, "default") if spec.name == "web"))
        if not chunked:  # (python, "-m", "daphne", options...) -> (python, "-c", AS_SHIPPED, options...)
            argv = [argv[0], "-c", AS_SHIPPED, *argv[3:]]
        self.web = subprocess.Popen(argv, cwd=PROJECT, env=self.env, stdout=subprocess.DEVNULL,  # noqa: S603
                                    stderr=open(self.tmp / "web.log", "ab"))  # noqa: SIM115
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise BenchError(f"daphne exited: {(self.tmp / 'web.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):  # noqa: S310
                    return self.web.pid
            except OSError:
                time.sleep(0.2)
        raise BenchError("daphne did not answer /healthz within 60 s")

    def stop_web(self):
        if self.web is not None:
            self.web.terminate()
            try:
                self.web.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.web.kill()
                self.web.wait()
            self.web = None

    def close(self):
        self.stop_web()
        shutil.rmtree(self.tmp, ignore_errors=True)


def measure(stack: Stack, setup: dict, *, mib: int, sha: str, chunked: bool, label: str) -> dict:
    pid = stack.start_web(chunked)
    name = "chunked" if chunked else "shipped"
    try:
        warm_sha = _sha256(1)
        status, _body = _put(stack.port, setup["token"], setup["app"], 1, warm_sha, f"warm-{name}.bin")
        if status not in (200, 201):
            raise BenchError(f"warm-up upload answered {status}")
        samples = []
        for _ in range(25):
            samples.append(rss_kib(pid))
            time.sleep(0.02)
        baseline = statistics.median(samples)
        with Sampler(pid) as sampler:
            started = time.monotonic()
            status, body = _put(stack.port, setup["token"], setup["app"], mib, sha, f"artifact-{name}.bin")
            took = time.monotonic() - started
        if status != 201 or body.get("sha256") != sha:
            raise BenchError(f"the upload answered {status}: {json.dumps(body)[:300]}")
        return {"label": label, "baseline": baseline / 1024, "peak": sampler.peak / 1024,
                "growth": (sampler.peak - baseline) / 1024, "seconds": took, "throughput": mib / took}
    finally:
        stack.stop_web()


def run(out=print, *, mib: int = 500, compare: bool = False) -> list[dict]:
    out(f"  a {mib} MiB artifact PUT through /api/v1/applications/<id>/artifacts/ of a real daphne "
        f"(RSS sampled every 20 ms)")
    stack = Stack(out)
    rows = []
    try:
        setup = stack.setup()
        sha = _sha256(mib)
        variants = [(True, "daphne + paas.http_server")] + ([(False, "daphne as shipped")] if compare else [])
        for chunked, label in variants:
            rows.append(measure(stack, setup, mib=mib, sha=sha, chunked=chunked, label=label))
    except BenchError as exc:
        out(f"  upload benchmark failed: {exc}")
        return rows
    finally:
        stack.close()
    out(f"  {'web process':<28} {'baseline RSS':>13} {'peak RSS':>10} {'difference':>11} {'time':>8} {'throughput':>12}")
    for row in rows:
        out(f"  {row['label']:<28} {row['baseline']:>9.0f} MiB {row['peak']:>6.0f} MiB {row['growth']:>+7.0f} MiB "
            f"{row['seconds']:>6.1f} s {row['throughput']:>7.0f} MiB/s")
    return rows
