"""Registry tests: storage in a temporary folder per test; real servers for the contract tests.

Tests marked `registry_server` talk to real registry processes (tests/registry/servers.py). The
built-in one is daphne on the test database, which must then be a file when it is SQLite: as in
tests/e2e/conftest.py, pytest_collection_finish makes it one when such tests were collected.
"""
import os
import shutil
import tempfile
import uuid

import pytest

from tests.factories import UserFactory, add_member, make_tenant, make_token

from . import servers
from .client import Client

_sqlite_dir: str | None = None


def pytest_collection_finish(session):
    global _sqlite_dir
    if not any(item.get_closest_marker("registry_server") for item in session.items):
        return
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3" or db.get("TEST", {}).get("NAME"):
        return
    _sqlite_dir = tempfile.mkdtemp(prefix="paas-registry-db-")
    db.setdefault("TEST", {})["NAME"] = os.path.join(_sqlite_dir, "test.sqlite3")


def pytest_unconfigure(config):
    if _sqlite_dir:
        shutil.rmtree(_sqlite_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def registry_storage(settings, tmp_path):
    """In-process tests keep blobs in their own folder, never in var/."""
    settings.REGISTRY_STORAGE_DIR = tmp_path / "registry"
    return settings.REGISTRY_STORAGE_DIR


# --- real servers ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def builtin_server(request, django_db_setup, tmp_path_factory):
    """(base URL, storage dir, log path, pid) of the built-in registry served by daphne."""
    from django.conf import settings

    with servers.builtin_registry(tmp_path_factory.mktemp("builtin-registry"),
                                  redis_url=settings.REDIS_URL) as running:
        yield running


@pytest.fixture(scope="session")
def distribution_server(tmp_path_factory):
    with servers.distribution_registry(tmp_path_factory.mktemp("distribution")) as running:
        yield running


@pytest.fixture
def skopeo():
    servers.need(servers.SKOPEO, "skopeo")
    return servers.SKOPEO


@pytest.fixture
def acme(transactional_db):
    """Tenant acme with a developer ("dev", write and read tokens) and globex with its owner."""
    from tenants.models import ApiToken
    from tenants.roles import Role

    acme = make_tenant("acme", name="Acme Payments")
    globex = make_tenant("globex", name="Globex Bank")
    dev = UserFactory(username="dev")
    add_member(acme, dev, Role.DEVELOPER)
    viewer = UserFactory(username="viewer")
    add_member(acme, viewer, Role.VIEWER)
    rival = UserFactory(username="rival")
    add_member(globex, rival, Role.OWNER)
    _, write = make_token(dev, acme, ApiToken.Scope.WRITE, name="ci")
    _, read = make_token(dev, acme, ApiToken.Scope.READ, name="pull")
    _, viewer_token = make_token(viewer, acme, ApiToken.Scope.WRITE, name="viewer")
    _, rival_token = make_token(rival, globex, ApiToken.Scope.WRITE, name="rival")
    return {"tenant": acme, "globex": globex, "dev": dev, "write": write, "read": read,
            "viewer": viewer, "viewer_token": viewer_token, "rival": rival, "rival_token": rival_token}


@pytest.fixture
def unique():
    """A fresh repository name in acme (the servers live for the whole session)."""
    return lambda prefix="repo": f"acme/{prefix}-{uuid.uuid4().hex[:10]}"


class Target:
    """One registry under contract test: where it is and how to sign in to it."""

    def __init__(self, kind: str, base: str, storage, username: str | None, password: str | None):
        self.kind = kind
        self.base = base
        self.storage = storage
        self.username = username
        self.password = password

    @property
    def host(self) -> str:
        return self.base.split("://", 1)[1]

    @property
    def builtin(self) -> bool:
        return self.kind == "builtin"

    def client(self, username: str | None = None, password: str | None = None) -> Client:
        if username is None and password is None:
            username, password = self.username, self.password
        return Client(self.base, username, password)

    def creds_args(self, flag: str = "") -> list[str]:
        """skopeo's --[<flag>-]creds user:token (built-in) or --[<flag>-]no-creds."""
        prefix = f"--{flag}-" if flag else "--"
        if self.username:
            return [f"{prefix}creds", f"{self.username}:{self.password}"]
        return [f"{prefix}no-creds"]

    def __repr__(self):
        return f"<{self.kind} registry at {self.base}>"


@pytest.fixture(params=[pytest.param("builtin", marks=pytest.mark.django_db(transaction=True)), "distribution"])
def registry(request):
    """The registry under test. Only the built-in one needs the database (its users and tokens):
    distribution runs skip the transactional flush, seconds per test on PostgreSQL."""
    if request.param == "builtin":
        acme = request.getfixturevalue("acme")
        base, storage, _log, _pid = request.getfixturevalue("builtin_server")
        return Target("builtin", base, storage, "dev", acme["write"])
    base, storage, _log = request.getfixturevalue("distribution_server")
    return Target("distribution", base, storage, None, None)
