"""Fixtures of the OCI builder tests: Debian's docker-registry (the CNCF distribution registry)
on a free 127.0.0.1 port with its storage in a temp dir, and a client of it.

Without the binary the registry tests are skipped, except in CI (CI=true), where they fail:
CI installs it, and a silently skipped registry suite would hide a broken builder.
"""
import os
import uuid

import pytest

from applications.oci import localregistry
from applications.oci.localregistry import free_port  # noqa: F401 (used by the tests)

Registry = localregistry.LocalRegistry


def need(binary: str) -> str:
    import shutil
    from pathlib import Path

    found = shutil.which(binary) or (binary if os.path.exists(binary) else None)
    if found:
        return found
    message = f"{binary} is not installed (Debian package: {Path(binary).name})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def start_registry(root, extra_config: str = "") -> Registry:
    need(localregistry.BINARY)
    return localregistry.start(root, extra_config)


def start_basic_registry(directory, users: dict[str, str]) -> Registry:
    """docker-registry asking for HTTP Basic logins (htpasswd: bcrypt hashes, as it requires)."""
    import warnings

    need(localregistry.BINARY)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

    lines = [f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))}\n"
             for user, password in users.items()]
    (directory / "htpasswd").write_text("".join(lines))
    return start_registry(directory, f"auth:\n  htpasswd:\n    realm: basic-realm\n"
                                     f"    path: {directory / 'htpasswd'}\n")


def stop_registry(registry: Registry) -> None:
    registry.stop()


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
