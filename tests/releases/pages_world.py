"""Rows for the release page tests (and the page matrices): acme's payments-api with revisions
r1 (baseline) and r2 (an image-only change) in test and prod, two registered clusters (one per
cell, unreachable on purpose: pages work on stored state), and releases created through the
services, with a few recorded events and pods as the executor would leave them."""
from django.db import transaction

from applications import services as app_services
from applications.models import AppInstance, AppRevision
from clusters.crypto import encrypt
from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone
from paas.actors import Actor
from releases import events
from releases import services as release_services
from releases.models import PodProgress, Release

SYSTEM = Actor.for_system("tests")
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def topology(tenant) -> list[Cluster]:
    region = Region.objects.create(name="East", slug="r-east")
    zone = Zone.objects.create(region=region, name="East 1", slug="z-east-1")
    clusters = []
    for n in (1, 2):
        cell = Cell.objects.create(zone=zone, name=f"cell {n}", slug=f"cell-{n}")
        clusters.append(Cluster.objects.create(cell=cell, name=f"k{n}", slug=f"k{n}", server="https://127.0.0.1:9",
                                               credentials=encrypt(KUBECONFIG)))
        for env in tenant.environments.all():
            EnvironmentBinding.objects.create(environment=env, cell=cell)
    return clusters


def _spec(tag: str) -> dict:
    return {"components": [{"name": "api", "image": f"127.0.0.1:8000/acme/payments-api:{tag}",
                            "replicas": {"dev": 1, "test": 2, "pre": 2, "prod": 2}}]}


def instance_with_revisions(application, environment) -> tuple[AppInstance, AppRevision, AppRevision]:
    r1 = AppRevision.objects.create(application=application, environment=environment, number=1, spec=_spec("1"),
                                    spec_hash="1" * 64, comment="first")
    r2 = AppRevision.objects.create(application=application, environment=environment, number=2, spec=_spec("2"),
                                    spec_hash="2" * 64, comment="new image")
    instance = AppInstance.objects.create(application=application, environment=environment, baseline=r1,
                                          state=AppInstance.State.DEPLOYED)
    return instance, r1, r2


def world(tenant) -> dict:
    clusters = topology(tenant)
    app = app_services.application_create(actor=SYSTEM, tenant=tenant, name="payments-api")
    app_services.component_create(actor=SYSTEM, application=app, data={"name": "api", "image": "acme/payments-api:1"})
    test = tenant.environments.get(slug="test")
    prod = tenant.environments.get(slug="prod")
    instance, r1, r2 = instance_with_revisions(app, test)
    prod_instance, _p1, p2 = instance_with_revisions(app, prod)
    release = release_services.release_create(actor=SYSTEM, instance=instance, target=r2,
                                              options={"confirm": "auto", "beta": {"pods": 1}})
    prod_release = release_services.release_create(actor=SYSTEM, instance=prod_instance, target=p2, options={})
    with transaction.atomic():
        for cluster in clusters:
            for i in range(2):
                PodProgress.objects.create(release=release, cluster=cluster, component="api",
                                           name=f"payments-api-api-{cluster.slug}-{i}", revision=1)
        # As the executor does: the row and its event in one transaction.
        PodProgress.objects.filter(release=release, name="payments-api-api-k1-0").update(state="updating")
        events.record(release, "pod.state", "pod moved", data={
            "cluster": clusters[0].pk, "cluster_slug": "k1", "cell": "cell-1", "component": "api",
            "pod": "payments-api-api-k1-0", "state": "updating", "revision": 1, "restarts": 0, "reason": ""})
        events.record(release, "gate.result", "gate", data={"step": 0, "gate": "error rate", "value": 0.01,
                                                             "threshold": 0.05, "op": "<", "ok": True, "detail": ""})
        events.record(release, "traffic.sample", "", data={"sent": 100, "ok": 100, "failed": 0, "success_ratio": 1.0})
    return {"app": app, "instance": instance, "prod_instance": prod_instance, "release": release,
            "prod_release": prod_release, "r1": r1, "r2": r2, "clusters": clusters, "test": test, "prod": prod}


def set_state(release: Release, state: str) -> None:
    Release.objects.filter(pk=release.pk).update(state=state)
    release.refresh_from_db()
