"""Real registry servers for the contract tests, each in a subprocess on a free 127.0.0.1 port:

- the built-in registry: daphne serving paas.asgi (the product exactly as deployed), on the test
  database (a file for SQLite, see conftest.pytest_collection_finish) so rows a test commits
  (users, API tokens) are what the server authenticates against;
- Debian's CNCF distribution registry (`/usr/bin/docker-registry serve config.yml`), no auth.
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKOPEO = "/usr/bin/skopeo"
DOCKER_REGISTRY = "/usr/bin/docker-registry"
# This helper's port range (see the brief); any free port past it.
PORTS = range(25000, 25100)

# daphne with every connection starting on empty content-type caches: transactional tests empty
# the tables and post_migrate recreates content types under new ids (tests/e2e/conftest.py).
SERVER_BOOT = """
import django
django.setup()
from django.contrib.contenttypes.models import ContentType
from guardian.shortcuts import clear_ct_cache
from paas.asgi import application as product


async def application(scope, receive, send):
    ContentType.objects.clear_cache()
    clear_ct_cache()
    await product(scope, receive, send)


from daphne.cli import CommandLineInterface
CommandLineInterface.entrypoint()
"""


def tools_required() -> bool:
    """CI must run the contract tests; a developer's machine may lack skopeo or docker-registry."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(path: str, package: str) -> None:
    if os.access(path, os.X_OK):
        return
    message = f"{path} is missing: apt-get install {package} (.ci/run installs it)"
    if tools_required():
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A free port of PORTS. Each xdist worker starts its scan in its own half of the range: two
    workers starting servers at the same moment would otherwise both find the first free port
    (it is free until a server binds it), and one of them would fail to listen."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    offset = (int(worker) if worker.isdigit() else 0) * len(PORTS) // 2 % len(PORTS)
    for port in [*PORTS[offset:], *PORTS[:offset]]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until_up(proc, url: str, log_path: Path, *, ok=(200,), seconds: float = 45) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{url}: the server exited with {proc.returncode}:\n{log_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310
                if resp.status in ok:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code in ok:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer within {seconds} s:\n{log_tail(log_path)}")
        time.sleep(0.2)


def stop(proc) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def database_url() -> str:
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite":
        if name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
            pytest.fail("The test database is in memory, so the registry server cannot see it; "
                        "tests/registry/conftest.py pytest_collection_finish should have made it a file.")
        return f"sqlite:///{os.path.abspath(name)}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def builtin_registry(workdir: Path, *, redis_url: str = ""):
    """(base URL, storage dir, log path, pid) of daphne serving the product on the test database."""
    from django.conf import settings

    port = free_port()
    storage = workdir / "storage"
    var = workdir / "var"
    storage.mkdir(parents=True)
    var.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "DJANGO_ALLOW_ASYNC_UNSAFE", "PAAS_TEST_SQLITE"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "paas.settings",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "PAAS_ENV": "development",
        "PAAS_VAR_DIR": str(var),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "REGISTRY_HOST": f"127.0.0.1:{port}",
        "REGISTRY_STORAGE_DIR": str(storage),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    log_path = workdir / "daphne.log"
    for _attempt in range(3):  # another process may take the port between the check and the bind
        env["REGISTRY_HOST"] = f"127.0.0.1:{port}"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(  # noqa: S603
                [sys.executable, "-c", SERVER_BOOT, "-b", "127.0.0.1", "-p", str(port), "__main__:application"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        if not _lost_the_port(proc, port, log_path):
            break
        port = free_port()
    try:
        wait_until_up(proc, f"http://127.0.0.1:{port}/healthz", log_path)
        yield f"http://127.0.0.1:{port}", storage, log_path, proc.pid
    finally:
        stop(proc)


def _lost_the_port(proc, port: int, log_path: Path, seconds: float = 45) -> bool:
    """True when the server exited because its port was taken (then the caller tries another);
    False once it accepts connections (or anything else happened: wait_until_up reports it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return "Address already in use" in log_tail(log_path)
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return False
        time.sleep(0.1)
    return False


DISTRIBUTION_CONFIG = """version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: contract-tests-only
"""


@contextlib.contextmanager
def distribution_registry(workdir: Path):
    """Base URL of Debian's docker-registry (CNCF distribution), no authentication."""
    need(DOCKER_REGISTRY, "docker-registry")
    port = free_port()
    root = workdir / "storage"
    root.mkdir(parents=True)
    config = workdir / "config.yml"
    config.write_text(DISTRIBUTION_CONFIG.format(root=root, port=port))
    log_path = workdir / "registry.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [DOCKER_REGISTRY, "serve", str(config)], cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_up(proc, f"http://127.0.0.1:{port}/v2/", log_path)
        yield f"http://127.0.0.1:{port}", root, log_path
    finally:
        stop(proc)
        shutil.rmtree(root, ignore_errors=True)
