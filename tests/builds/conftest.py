"""Builds fixtures: acme's application with Dockerfile versions (one clean, one with lint
errors), artifacts stored under a temporary BUILD_ARTIFACT_DIR, and the fake builder with
fake registry clients, so the build task runs without a registry."""
import hashlib

import pytest

from applications.builds import registry_access, runner
from applications.builds.models import Artifact
from applications.models import Application, DockerfileVersion

from . import fakes

DOCKERFILE = """FROM platform/jre:17
COPY app.jar /app/app.jar
USER 10001
HEALTHCHECK CMD ["/opt/java/bin/java", "-version"]
ENTRYPOINT ["/opt/java/bin/java", "-jar", "/app/app.jar"]
"""


@pytest.fixture(autouse=True)
def _builds_settings(settings, tmp_path):
    settings.BUILD_ARTIFACT_DIR = tmp_path / "artifacts"
    settings.BUILD_HEARTBEAT_SECONDS = 0  # no thread: tests run inside one transaction
    settings.BUILDER = "tests.builds.fakes.fake_build_image"
    fakes.SLEEP = 0
    fakes.FAIL = ""
    fakes.CALLS.clear()


@pytest.fixture
def fake_registry(monkeypatch):
    """Fake clients instead of the registry; references parsed by the real module when present."""
    clients = {"target": fakes.FakeClient("target"), "base": fakes.FakeClient("base")}
    monkeypatch.setattr(registry_access, "clients_for",
                        lambda build, bases, credentials: (clients["target"], lambda host: clients["base"]))
    try:
        from applications.oci import references  # noqa: F401
    except ImportError:
        monkeypatch.setattr(runner, "parse_reference", fakes.parse)
    return clients


@pytest.fixture
def app(tenant):
    return Application.objects.create(tenant=tenant, name="payments-api", stack="java")


@pytest.fixture
def dockerfile(app):
    return DockerfileVersion.objects.create(application=app, number=1, content=DOCKERFILE, lint_status="ok")


@pytest.fixture
def bad_dockerfile(app):
    findings = [{"line": 1, "severity": "error", "code": "DL3007", "message": "Using latest is prone to errors",
                 "source": "hadolint"},
                {"line": 3, "severity": "error", "code": "platform.user", "message": "USER must not be root",
                 "source": "platform"},
                {"line": 2, "severity": "warning", "code": "DL3020", "message": "Use COPY", "source": "hadolint"}]
    return DockerfileVersion.objects.create(application=app, number=2, content="FROM x:latest\nADD a b\nUSER root\n",
                                            lint_status="errors", findings=findings)


def store_artifact(app, content: bytes = b"jar bytes", filename: str = "app.jar") -> Artifact:
    from applications.builds.storage import HashingWriter

    writer = HashingWriter(10 ** 9)
    writer.write(content)
    relative = writer.store()
    return Artifact.objects.create(tenant=app.tenant, application=app, filename=filename, size=len(content),
                                   sha256=hashlib.sha256(content).hexdigest(), path=relative)


@pytest.fixture
def artifact(app):
    return store_artifact(app)


# --- a real built-in registry (tests marked registry_server; see tests/registry/conftest.py) ---------

_sqlite_dir = None


def pytest_collection_finish(session):
    """The registry server (daphne) reads the test database: on SQLite it must be a file."""
    global _sqlite_dir
    if not any(item.get_closest_marker("registry_server") and "tests/builds/" in str(item.fspath)
               for item in session.items):
        return
    import os
    import tempfile

    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3" or db.get("TEST", {}).get("NAME"):
        return
    _sqlite_dir = tempfile.mkdtemp(prefix="paas-builds-db-")
    db.setdefault("TEST", {})["NAME"] = os.path.join(_sqlite_dir, "test.sqlite3")


def pytest_unconfigure(config):
    import shutil

    if _sqlite_dir:
        shutil.rmtree(_sqlite_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def registry_server(request, django_db_setup, tmp_path_factory):
    """(base URL, storage dir, log) of the product's daphne serving /v2/ on the test database, on a
    port of this suite's range."""
    from django.conf import settings

    from tests.registry import servers

    original = servers.PORTS
    servers.PORTS = range(25500, 25600)
    try:
        with servers.builtin_registry(tmp_path_factory.mktemp("builds-registry"),
                                      redis_url=settings.REDIS_URL) as running:
            yield running
    finally:
        servers.PORTS = original
