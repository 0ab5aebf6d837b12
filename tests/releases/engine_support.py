"""Shared by the engine tests: the federation simulator fixtures (tests/federation/conftest.py:
clusters fed-a1, fed-a2 in cell-a / zone z-east, fed-b1 in cell-b / zone z-west), an application
deployed to acme/test (bound to both cells) as a CloneSet or a Deployment, a second revision
with a new image, and helpers to read the pods straight from the member clusters.

The executor runs threads that write the database (heartbeat, federation sync), so these tests
need PostgreSQL (DATABASE_URL); on SQLite they are skipped.
"""
import importlib
import os

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection
from kubernetes import client

from applications import services as app_services
from clusters.federation import services as fed_services
from clusters.federation.models import FederatedType
from clusters.models import Cell, Cluster, EnvironmentBinding
from releases import services as release_services
from releases.models import Release, ReleaseEvent
from tests.applications.conftest import COMPONENT, SYSTEM, fake_builtin
from tests.federation.conftest import converge, direct_client, wait_for

CLUSTERS = ("fed-a1", "fed-a2", "fed-b1")
NS = "acme-test"
FAST = {"drain_seconds": 0.2, "warmup_seconds": 0.1, "confirm": "auto", "beta": {"pods": 1},
        "batches": ["100%"], "gates": {"timeout_seconds": 20, "min_ready_ratio": 1.0, "no_restarts": True,
                                       "metrics": [], "prometheus_url": ""}}


def needs_postgres():
    if connection.vendor != "postgresql":
        if os.environ.get("DATABASE_URL"):
            pytest.fail("DATABASE_URL is set but not PostgreSQL")
        pytest.skip("the executor's threads need PostgreSQL (DATABASE_URL)")
    importlib.import_module("clusters.federation.migrations.0002_builtin_types").seed(django_apps, None)


def enable_cloneset() -> FederatedType:
    cluster = Cluster.objects.get(slug="fed-a1")
    ftype = fed_services.federated_type_register_crd(actor=SYSTEM, cluster=cluster,
                                                     crd_name="clonesets.apps.kruise.io")
    return fed_services.federated_type_set_enabled(actor=SYSTEM, ftype=ftype, enabled=True)


def deploy(tenant, monkeypatch, *, kind: str = "cloneset", replicas: int = 2):
    """(application, instance, revision 2) with revision 1 running everywhere."""
    registry = fake_builtin(monkeypatch, settings, "127.0.0.1:22999")  # nothing listens: images run as given
    test = tenant.environments.get(slug="test")
    for cell in Cell.objects.all():
        EnvironmentBinding.objects.get_or_create(environment=test, cell=cell)
    if kind == "cloneset":
        enable_cloneset()
    registry.push("acme/payments-api", "1.0")
    registry.push("acme/payments-api", "2.0")
    registry.push("acme/payments-api", "3.0")
    app = app_services.application_create(actor=SYSTEM, tenant=tenant, name="payments-api")
    component = dict(COMPONENT, workload_kind=kind,
                     replicas={"dev": 1, "test": replicas, "pre": replicas, "prod": replicas})
    component.pop("liveness_probe")
    app_services.component_create(actor=SYSTEM, application=app, data=component)
    first = app_services.revision_create(actor=SYSTEM, application=app, environment=test)
    instance = app_services.instance_apply_revision(actor=SYSTEM, instance=app.instances.get(environment=test),
                                                    revision=first)
    converge()
    wait_for(lambda: all_ready(replicas * len(CLUSTERS)), timeout=20, message="revision 1 ready everywhere")
    app_services.component_update(actor=SYSTEM, component=app.components.get(),
                                  data={"image": "acme/payments-api:2.0"})
    second = app_services.revision_create(actor=SYSTEM, application=app, environment=test)
    instance.refresh_from_db()
    return app, instance, second


def pods(name: str = None) -> dict:
    """{(cluster, pod): V1Pod} of the application, straight from the member clusters."""
    out = {}
    for cluster in ([name] if name else CLUSTERS):
        api = direct_client(pytest.fedsim_server, cluster)
        for pod in client.CoreV1Api(api).list_namespaced_pod(
                NS, label_selector="app.stratus.io/application=payments-api").items:
            if pod.metadata.deletion_timestamp is None:
                out[(cluster, pod.metadata.name)] = pod
        api.close()
    return out


def ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def all_ready(count: int) -> bool:
    found = pods()
    return len(found) == count and all(ready(p) for p in found.values())


def restarts(pod) -> int:
    return sum(s.restart_count for s in pod.status.container_statuses or [])


def image(pod) -> str:
    return pod.spec.containers[0].image


def create(instance, target, **options) -> Release:
    merged = {**FAST, **options}
    release = release_services.release_create(actor=SYSTEM, instance=instance, target=target, options=merged)
    return release_services.release_start(actor=SYSTEM, release=release)


def kinds(release) -> list[str]:
    return list(ReleaseEvent.objects.filter(release=release).order_by("seq").values_list("kind", flat=True))


def assert_gap_free(release) -> None:
    seqs = list(ReleaseEvent.objects.filter(release=release).order_by("seq").values_list("seq", flat=True))
    release.refresh_from_db()
    assert seqs == list(range(1, release.last_seq + 1))


def cleanup_clonesets(server) -> None:
    for name in CLUSTERS:
        api = direct_client(server, name)
        custom = client.CustomObjectsApi(api)
        try:
            for item in custom.list_namespaced_custom_object("apps.kruise.io", "v1alpha1", NS, "clonesets")["items"]:
                custom.delete_namespaced_custom_object("apps.kruise.io", "v1alpha1", NS, "clonesets",
                                                       item["metadata"]["name"])
        except client.ApiException:
            pass
        api.close()


class Background:
    """advance() on a thread, as a worker would run it; join() returns its answer."""

    def __init__(self, release_id: int):
        import threading

        self.result = None
        self.thread = threading.Thread(target=self._run, args=(release_id,), daemon=True)
        self.thread.start()

    def _run(self, release_id):
        from django.db import connection as conn

        from releases.engine.executor import advance

        try:
            self.result = advance(release_id)
        finally:
            conn.close()

    def join(self, timeout: float = 60) -> str:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the executor did not stop"
        return self.result


def wait_event(release, kind: str, timeout: float = 30, **data) -> ReleaseEvent:
    def find():
        for event in ReleaseEvent.objects.filter(release=release, kind=kind).order_by("seq"):
            if all(event.data.get(k) == v for k, v in data.items()):
                return event
        return None

    return wait_for(find, timeout=timeout, interval=0.05, message=f"event {kind} {data}")


def revisions() -> dict:
    return {key: pod.metadata.labels["app.stratus.io/revision"] for key, pod in pods().items()}
