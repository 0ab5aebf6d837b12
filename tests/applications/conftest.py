"""Applications fixtures: a topology of registered clusters (unreachable on purpose: services and
pages work on stored state), the built-in registry replaced by a dict (images.builtin_digest is the
one function that asks it), and an application with one component.

Topology: cell-a (app-a1, app-a2) and cell-b (app-b1) in region r-east; every acme environment is
bound to both cells, except dev, bound to cell-b only.
"""
import hashlib

import pytest

from applications import images, services
from applications.builds.models import Build
from applications.models import DockerfileVersion
from clusters.crypto import encrypt
from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone
from paas.actors import Actor

SYSTEM = Actor.for_system("tests")
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class FakeRegistry:
    """repository -> {tag or digest: digest}; what manifest_for would find."""

    def __init__(self):
        self.images: dict[str, dict[str, str]] = {}
        self.asked: list[tuple] = []

    def push(self, repository: str, tag: str) -> str:
        value = digest(f"{repository}:{tag}")
        refs = self.images.setdefault(repository, {})
        refs[tag] = value
        refs[value] = value
        return value

    def lookup(self, tenant, repository, reference):
        self.asked.append((tenant.slug if tenant else None, repository, reference))
        namespace = repository.split("/", 1)[0]
        if namespace not in ("platform", tenant.slug):
            return None
        return self.images.get(repository, {}).get(reference)


def fake_builtin(monkeypatch, settings, host: str) -> FakeRegistry:
    """The built-in registry at `host`, answered by a FakeRegistry."""
    settings.REGISTRY_HOST = host
    fake = FakeRegistry()
    monkeypatch.setattr(images, "builtin_digest", fake.lookup)
    return fake


@pytest.fixture
def registry(monkeypatch, settings):
    return fake_builtin(monkeypatch, settings, "registry.test:5000")


@pytest.fixture
def cells(tenant):
    region = Region.objects.create(name="East", slug="r-east")
    zones = {"cell-a": Zone.objects.create(region=region, name="Z east", slug="z-east"),
             "cell-b": Zone.objects.create(region=region, name="Z west", slug="z-west")}
    cells = {slug: Cell.objects.create(zone=zones[slug], name=slug, slug=slug) for slug in zones}
    clusters = {}
    for name, cell in (("app-a1", "cell-a"), ("app-a2", "cell-a"), ("app-b1", "cell-b")):
        clusters[name] = Cluster.objects.create(cell=cells[cell], name=name, slug=name, server="https://127.0.0.1:9",
                                                credentials=encrypt(KUBECONFIG))
    for env in tenant.environments.all():
        for slug in (("cell-b",) if env.slug == "dev" else ("cell-a", "cell-b")):
            EnvironmentBinding.objects.create(environment=env, cell=cells[slug])
    return {"cells": cells, "clusters": clusters}


def env(tenant, slug):
    return tenant.environments.get(slug=slug)


COMPONENT = {
    "name": "api", "image": "acme/payments-api:1.0",
    "ports": [{"name": "http", "port": 8080}],
    "env": [{"name": "JAVA_OPTS", "value": "-Xmx256m"}],
    "secret_env": {"DB_PASSWORD": "s3cret-value"},
    "config_files": [{"path": "/etc/app/application.yaml", "content": "server:\n  port: 8080\n"}],
    "resources": {"requests": {"cpu": "250m", "memory": "256Mi", "ephemeral-storage": "100Mi"},
                  "limits": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "200Mi"}},
    "liveness_probe": {"type": "http", "path": "/healthz", "port": "http", "period_seconds": 10},
    "readiness_probe": {"type": "tcp", "port": 8080},
    "replicas": {"dev": 1, "test": 1, "pre": 2, "prod": 2},
}


@pytest.fixture
def app(tenant, registry):
    registry.push("acme/payments-api", "1.0")
    application = services.application_create(actor=SYSTEM, tenant=tenant, name="payments-api", team="payments",
                                              stack="java")
    services.component_create(actor=SYSTEM, application=application, data=dict(COMPONENT))
    return application


def make_build(application, image_digest: str, *, provenance: bool = True) -> Build:
    dockerfile = DockerfileVersion.objects.create(application=application, number=1, content="FROM platform/jre:17\n")
    return Build.objects.create(tenant=application.tenant, application=application, number=1, dockerfile=dockerfile,
                                repository=application.repository, tag="1.0", state=Build.State.SUCCEEDED,
                                image_digest=image_digest, provenance={"artifact": "x"} if provenance else {},
                                provenance_digest=digest("provenance") if provenance else "")
