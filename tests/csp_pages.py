"""The representative pages the Content-Security-Policy tests visit (unit and browser),
and the rows they need: one registered cluster and one federated resource in acme/prod."""
from applications.dockerfiles import services as dockerfile_services
from clusters.crypto import encrypt
from clusters.federation import services as federation_services
from clusters.federation.models import FederatedType
from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone
from paas.actors import Actor

SYSTEM = Actor.for_system("csp-tests")
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""
DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}]}}},
}


def make_platform(tenant) -> dict:
    """Topology, one cluster (unreachable on purpose: pages show stored state) and a resource."""
    region = Region.objects.create(name="East", slug="east")
    zone = Zone.objects.create(region=region, name="East 1", slug="east-1")
    cell = Cell.objects.create(zone=zone, name="Cell A", slug="cell-a")
    cluster = Cluster.objects.create(cell=cell, name="Prod A", slug="prod-a", server="https://127.0.0.1:9",
                                     credentials=encrypt(KUBECONFIG))
    prod = tenant.environments.get(slug="prod")
    EnvironmentBinding.objects.create(environment=prod, cell=cell)
    resource = federation_services.federated_resource_create(
        actor=SYSTEM, environment=prod, ftype=FederatedType.objects.get(kind="Deployment"), name="web",
        template=DEPLOYMENT)
    from tests.registry.rows import registry_rows

    registry_rows(tenant, None)
    app = make_application(tenant)
    return {"cluster": cluster, "cell": cell, "zone": zone, "resource": resource, **app,
            "release": make_release(app, cluster)}


def make_release(app: dict, cluster):
    """A running release of the prod instance (r1 -> r2) with a pod and a few events (rows written
    directly: the pages only read them)."""
    from django.db import transaction

    from applications.models import AppRevision
    from releases import events
    from releases.models import PodProgress, Release

    first = app["revision"]
    instance = first.application.instances.get(environment=first.environment)
    instance.baseline = first
    instance.save(update_fields=["baseline"])
    second = AppRevision.objects.create(application=first.application, environment=first.environment, number=2,
                                        spec=first.spec, spec_hash="2" * 64, comment="image only")
    plan = {"version": 1, "in_place": True, "clusters": [{"id": cluster.pk, "slug": cluster.slug, "cell": "cell-a",
                                                          "zone": "east-1", "region": "east", "pods": {"api": 2}}],
            "steps": [], "estimate_seconds": 3.0}
    release = Release.objects.create(tenant=first.application.tenant, environment=first.environment, instance=instance,
                                     baseline=first, target=second, number=1, state=Release.State.RUNNING, plan=plan)
    step = release.steps.create(index=0, kind="beta", name="Beta: 1 pod in cell-a", group="cell cell-a")
    step.targets.create(cluster=cluster, component="api", workload_kind="CloneSet", workload_name="payments-api-api",
                        in_place=True, desired=1, total=2, updated=1, ready=0)
    PodProgress.objects.create(release=release, cluster=cluster, component="api", name="payments-api-api-x1",
                               state="updating", revision=1)
    with transaction.atomic():
        events.record(release, "release.started", "started", data={"state": "running", "step": 0})
        events.record(release, "gate.result", "gate", data={"step": 0, "gate": "error rate", "value": 0.01,
                                                             "threshold": 0.05, "op": "<", "ok": True})
        events.record(release, "traffic.sample", "", data={"sent": 10, "ok": 10, "failed": 0, "success_ratio": 1.0})
    return release


def make_application(tenant) -> dict:
    """An application with a component, an instance in prod and a revision (rows written directly)."""
    from applications import services as app_services
    from applications.models import AppInstance, AppRevision

    app = app_services.application_create(actor=SYSTEM, tenant=tenant, name="payments-api")
    app_services.component_create(actor=SYSTEM, application=app, data={
        "name": "api", "image": "acme/payments-api:1", "ports": [{"name": "http", "port": 8080}],
        "secret_env": {"DB_PASSWORD": "x"}, "config_files": [{"path": "/etc/app.yaml", "content": "a: 1"}]})
    prod = tenant.environments.get(slug="prod")
    AppInstance.objects.create(application=app, environment=prod)
    spec = {"components": [{"name": "api", "image": "127.0.0.1:8000/acme/payments-api@sha256:" + "a" * 64,
                            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                            "config_files": [{"path": "/etc/app.yaml", "content": "a: 1"}],
                            "secret_env": {"names": ["DB_PASSWORD"], "version": "abc"},
                            "replicas": {"dev": 1, "test": 1, "pre": 1, "prod": 1}}]}
    revision = AppRevision.objects.create(application=app, environment=prod, number=1, spec=spec,
                                          spec_hash="0" * 64)
    dockerfile_services.base_images_ensure(actor=SYSTEM)
    for user in ("10001", "10002"):
        dockerfile_services.dockerfile_generate(actor=SYSTEM, application=app, stack="java", form={"user": user})
    return {"application": app, "revision": revision}


def portal_pages(platform, tenant) -> dict[str, str]:
    """name -> path of the portal pages an operator (superuser) can open."""
    res = platform["resource"]
    return {
        "dashboard": "/",
        "tenant-list": "/tenants/",
        "tenant-detail": f"/tenants/{tenant.slug}/",
        "members": f"/tenants/{tenant.slug}/members/",
        "quotas": f"/tenants/{tenant.slug}/quotas/",
        "tokens": f"/tenants/{tenant.slug}/tokens/",
        "coming-soon": "/coming-soon/clusters/",
        "clusters": "/clusters/",
        "cluster-detail": f"/clusters/{platform['cluster'].slug}/",
        "zone": f"/clusters/-/zones/{platform['zone'].slug}/",
        "cell": f"/clusters/-/cells/{platform['cell'].slug}/",
        "cluster-switch": "/clusters/-/switch/",
        "federation": f"/federation/{tenant.slug}/",
        "federation-list": f"/federation/{tenant.slug}/prod/",
        "federation-detail": f"/federation/{tenant.slug}/prod/{res.pk}/",
        "federation-types": "/federation/-/types/",
        "applications": "/applications/",
        "application-new": "/applications/new/",
        "application-detail": f"/applications/{platform['application'].pk}/",
        "application-component": f"/applications/{platform['application'].pk}/components/api/edit/",
        "application-instance": f"/applications/{platform['application'].pk}/instances/prod/",
        "application-placement": f"/applications/{platform['application'].pk}/instances/prod/edit/",
        "application-revision": platform["revision"].get_absolute_url(),
        "application-diff": f"/applications/{platform['application'].pk}/revisions/diff/",
        "releases": "/releases/",
        "release-detail": f"/releases/{platform['release'].pk}/",
        "release-new": f"/releases/new/?application={platform['application'].pk}&environment=prod",
        "admin-application": f"/admin/applications/application/{platform['application'].pk}/change/",
        "ops": "/ops/",
        # The editor loads CodeMirror, whose run-time <style> carries the request's nonce.
        "dockerfile-editor": f"/applications/{platform['application'].pk}/dockerfile/",
        "dockerfile-generate": f"/applications/{platform['application'].pk}/dockerfile/generate/",
        "dockerfile-version": f"/applications/{platform['application'].pk}/dockerfile/versions/2/",
        "dockerfile-diff": f"/applications/{platform['application'].pk}/dockerfile/diff/",
        "registry": "/registry/",
        "registry-detail": f"/registry/{tenant.slug}/api/",
        "audit": "/audit/",
        "admin-index": "/admin/",
        "admin-tenant-list": "/admin/tenants/tenant/",
        "admin-tenant-change": f"/admin/tenants/tenant/{tenant.pk}/change/",
        "admin-tenant-add": "/admin/tenants/tenant/add/",
        "admin-membership-change": f"/admin/tenants/membership/{tenant.memberships.first().pk}/change/",
        "admin-environment-permissions": f"/admin/tenants/environment/{tenant.environments.get(slug='prod').pk}"
                                         "/permissions/",
        "admin-audit-list": "/admin/audit/auditevent/",
        "api-docs": "/api/docs/",
        "api-redoc": "/api/redoc/",
    }
