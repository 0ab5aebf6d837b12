"""The representative pages the Content-Security-Policy tests visit (unit and browser),
and the rows they need: one registered cluster and one federated resource in acme/prod."""
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
    return {"cluster": cluster, "cell": cell, "zone": zone, "resource": resource}


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
        "coming-soon": "/coming-soon/releases/",
        "clusters": "/clusters/",
        "cluster-detail": f"/clusters/{platform['cluster'].slug}/",
        "zone": f"/clusters/-/zones/{platform['zone'].slug}/",
        "cell": f"/clusters/-/cells/{platform['cell'].slug}/",
        "cluster-switch": "/clusters/-/switch/",
        "federation": f"/federation/{tenant.slug}/",
        "federation-list": f"/federation/{tenant.slug}/prod/",
        "federation-detail": f"/federation/{tenant.slug}/prod/{res.pk}/",
        "federation-types": "/federation/-/types/",
        "ops": "/ops/",
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
