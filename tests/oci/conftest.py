"""Fixtures of the OCI builder tests: Debian's docker-registry (the CNCF distribution registry)
on a free 127.0.0.1 port with its storage in a temp dir, and a client of it.

Without the binary the registry tests are skipped, except in CI (CI=true), where they fail:
CI installs it, and a silently skipped registry suite would hide a broken builder.
"""
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REGISTRY_BINARY = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def need(binary: str) -> str:
    found = shutil.which(binary) or (binary if os.path.exists(binary) else None)
    if found:
        return found
    message = f"{binary} is not installed (Debian package: {Path(binary).name})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Registry:
    host: str
    url: str
    root: Path
    process: subprocess.Popen
    log: Path


def start_registry(root: Path, extra_config: str = "") -> Registry:
    binary = need(REGISTRY_BINARY)
    port = free_port()
    config = root / "config.yml"
    log = root / "registry.log"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: tests-only-secret\n" + extra_config)
    with open(log, "wb") as out:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            if requests.get(f"{url}/v2/", timeout=1).status_code in (200, 401):
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"docker-registry did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    return Registry(host=f"127.0.0.1:{port}", url=url, root=root, process=process, log=log)


def stop_registry(registry: Registry) -> None:
    registry.process.terminate()
    try:
        registry.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        registry.process.kill()
        registry.process.wait()


@pytest.fixture(scope="session")
def docker_registry(tmp_path_factory):
    registry = start_registry(tmp_path_factory.mktemp("registry"))
    yield registry
    stop_registry(registry)


@pytest.fixture
def registry_client(docker_registry):
    from applications.oci.client import RegistryClient

    with RegistryClient(docker_registry.url) as client:
        yield client


@pytest.fixture
def repo():
    """A repository name of its own for each test (the session's registry is shared)."""
    return f"acme/t{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def seeded_registry(docker_registry):
    """The session registry with the platform's base images under platform/."""
    from applications.oci.base_images import seed_base_images
    from applications.oci.client import RegistryClient

    with RegistryClient(docker_registry.url) as client:
        digests = {f"{name}:{tag}": digest for name, tag, digest in seed_base_images(client)}
    return docker_registry, digests


@pytest.fixture
def builtin_is(settings, seeded_registry):
    """``FROM platform/...`` (no host) means the session registry in these tests."""
    registry, digests = seeded_registry
    settings.REGISTRY_HOST = registry.host
    return registry, digests
