"""A real external registry for the applications tests: Debian's docker-registry (the CNCF
distribution registry) asking for a login, either HTTP Basic (htpasswd) or Bearer tokens from a
token service as Harbor runs one (tests/oci/tokenauth.py), with tiny images pushed to it by
applications.oci.client.RegistryClient.

The tenant registers a pull-only login (`PULLER`); images are pushed with another account, so a
test that pulls proves the tenant's login did it. Its password is long and unusual, so that finding
it (or its base64) anywhere it must not be cannot be a coincidence.

Without /usr/bin/docker-registry these tests are skipped on a developer's machine and FAIL under
CI=true (tests/oci/conftest.need).
"""
import base64
from dataclasses import dataclass

import pytest

from applications.oci.client import RegistryClient
from applications.oci.localregistry import LocalRegistry
from paas.actors import Actor
from tests.oci import tokenauth
from tests.oci.conftest import start_basic_registry, start_registry, stop_registry
from tests.registry import images

SYSTEM = Actor.for_system("tests")
PULLER = ("puller", "ext-pull-Pa55word-7c1e9d")
BASIC_PUSHER = ("pusher", "push-Pa55word-31ab")


@dataclass
class External:
    registry: LocalRegistry
    mode: str  # "basic" or "bearer"
    pusher: tuple[str, str]

    @property
    def host(self) -> str:
        return self.registry.host

    @property
    def url(self) -> str:
        return self.registry.url

    def push(self, repository: str, tag: str, label: str = "") -> str:
        """A one-layer image pushed as `tag`; returns its manifest digest."""
        img = images.image([{"app/run": f"#!/bin/sh\necho {label or tag}\n".encode()}], label=label or tag)
        with RegistryClient(self.url, username=self.pusher[0], password=self.pusher[1]) as client:
            for blob in img.blobs.values():
                client.push_blob(repository, blob)
            return client.push_manifest(repository, tag, img.manifest, img.media_type)

    def register(self, tenant, *, name: str = "dist", password: str = PULLER[1]):
        """The tenant's ExternalRegistry entry for it, with the pull-only login (through the service)."""
        from applications.registry.services import external_registry_create

        return external_registry_create(actor=SYSTEM, tenant=tenant, name=name, url=self.url, username=PULLER[0],
                                        password=password, insecure=True)


def secret_forms(password: str = PULLER[1]) -> list[str]:
    """The password as it could leak: itself, base64 of `user:password` (a dockerconfigjson's
    `auth`) and base64 of the password."""
    return [password, base64.b64encode(f"{PULLER[0]}:{password}".encode()).decode(),
            base64.b64encode(password.encode()).decode()]


@pytest.fixture(scope="module", params=["basic", "bearer"])
def external(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"external-{request.param}")
    if request.param == "basic":
        registry = start_basic_registry(directory, dict((PULLER, BASIC_PUSHER)))
        yield External(registry, "basic", BASIC_PUSHER)
        stop_registry(registry)
        return
    service = tokenauth.TokenService(directory)
    tokenauth.USERS[PULLER[0]] = (PULLER[1], {"pull"})
    try:
        registry = start_registry(directory, service.registry_config())
        yield External(registry, "bearer", ("writer", tokenauth.USERS["writer"][0]))
        stop_registry(registry)
    finally:
        tokenauth.USERS.pop(PULLER[0], None)
        service.stop()
