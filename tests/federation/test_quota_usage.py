"""Quota usage against a real simulator: what member clusters report (ResourceQuota
status.used, read by the status collection), what the deployed resources plan, and the
warning a change gets before it would exceed the quota (form, preview page, API)."""
from clusters.federation import quota_usage, services
from clusters.federation.models import MemberNamespace
from clusters.federation.tasks import collect_status
from clusters.models import Cluster
from tenants import services as tenant_services

from .conftest import SYSTEM, converge, deployment, wait_for


def _deploy(topology, ftypes, *, pods_quota=5, replicas=2):
    """acme/prod: a quota of `pods_quota` pods per cluster, `replicas` pods in each of the 3 clusters
    (Duplicated, the default placement)."""
    tenant_services.quota_update(actor=SYSTEM, quota=topology["prod"].quota, pods=pods_quota)
    resource = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                                  ftype=ftypes["Deployment"], name="web",
                                                  template=deployment("web", replicas=replicas))
    converge()
    return resource


def _collect_until(predicate):
    def collected():
        for cluster in ("fed-a1", "fed-a2", "fed-b1"):
            collect_status.run(Cluster.objects.get(slug=cluster).pk)
        return predicate()
    return wait_for(collected, timeout=15, message="quota usage reported")


def _bars(environment):
    return {c.cluster: {b.name: b for b in c.bars} for c in quota_usage.usage(environment)["clusters"]}


def test_usage_reported_by_clusters_and_planned_by_resources(topology, ftypes):
    _deploy(topology, ftypes, pods_quota=1, replicas=2)  # 2 wanted in each cluster, the quota admits 1
    prod = topology["prod"]
    bars = _collect_until(lambda: (b := _bars(prod)) and all(
        b[c]["pods"].used == 1 for c in ("fed-a1", "fed-a2", "fed-b1")) and b)
    pods = bars["fed-a1"]["pods"]
    assert (pods.limit, pods.used, pods.planned, pods.left, pods.level) == (1, 1, 2, 0, "danger")
    cpu = bars["fed-b1"]["cpu_millicores"]  # 10m per pod: 1 running, 2 planned
    assert (cpu.used, cpu.planned, cpu.limit) == (10, 20, 4000)
    memory = bars["fed-a2"]["memory_mib"]
    assert (memory.used, memory.planned) == (16, 32)
    member = MemberNamespace.objects.get(environment=prod, cluster__slug="fed-a1")
    assert member.quota_status["hard"]["pods"] == "1" and member.quota_observed_at is not None
    # Exclusive cores have no Kubernetes quota: one platform-level bar, planned only.
    (cpuset,) = quota_usage.usage(prod)["platform"]
    assert cpuset.used is None and cpuset.planned == 0


def test_change_that_exceeds_the_quota_is_warned_about(topology, ftypes):
    resource = _deploy(topology, ftypes, pods_quota=3, replicas=2)
    more = deployment("web", replicas=5)  # 5 per cluster where 2 run and 3 are allowed
    found = quota_usage.impact(environment=topology["prod"], template=more,
                               targets={"fed-a1": 5, "fed-a2": 5, "fed-b1": 5}, resource=resource)
    assert found["exceeds"] is True
    assert found["messages"][0] == ("This change needs 3 more pods in cluster fed-a1; 1 pod is left in acme/prod "
                                    "(quota 3).")
    entry = found["clusters"][0]
    assert entry["extra"]["pods"] == 3 and entry["left"]["pods"] == 1 and entry["limit"]["pods"] == 3
    # Within the quota: no warning (the resource's own pods are replaced, not counted twice).
    same = quota_usage.impact(environment=topology["prod"], template=deployment("web", replicas=3),
                              targets={"fed-a1": 3, "fed-a2": 3, "fed-b1": 3}, resource=resource)
    assert same["exceeds"] is False and same["clusters"][0]["extra"]["pods"] == 1


YAML_5 = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: main
        image: nginx:1.25
        resources:
          requests: {cpu: 10m, memory: 16Mi, ephemeral-storage: 16Mi}
          limits: {cpu: 10m, memory: 16Mi, ephemeral-storage: 16Mi}
"""
WARNING = "This change needs 3 more pods in cluster fed-a1; 1 pod is left in acme/prod (quota 3)."


def test_form_preview_and_api_warn_before_the_quota_is_exceeded(topology, ftypes, personas, login):
    resource = _deploy(topology, ftypes, pods_quota=3, replicas=2)
    client = login(personas["developer"])
    base = f"/federation/acme/prod/{resource.pk}/"
    change = {"template": YAML_5, "placement": "", "overrides": ""}
    # The form asks for the warning while the user edits (htmx posts the form; nothing is saved).
    form_page = client.get(base + "edit/").content.decode()
    assert f'hx-post="{base}quota-impact/"' in form_page and 'id="quota-impact"' in form_page
    fragment = client.post(base + "quota-impact/", change).content.decode()
    assert WARNING in fragment and "You can still save it" in fragment
    within = client.post(base + "quota-impact/", {**change, "template": YAML_5.replace("replicas: 5", "replicas: 3")})
    assert "Fits within the quota of acme/prod" in within.content.decode()
    # A new resource: everything it asks for is extra.
    new = client.post("/federation/acme/prod/new/quota-impact/", {
        "ftype": ftypes["Deployment"].pk, "name": "shop", "template": YAML_5.replace("name: web,", "name: shop,"),
        "placement": "", "overrides": ""}).content.decode()
    assert "This change needs 5 more pods in cluster fed-a1; 1 pod is left in acme/prod (quota 3)." in new
    # The preview of the same change says the same; nothing was saved.
    assert WARNING in client.post(base + "preview/", change).content.decode()
    assert resource.__class__.objects.get(pk=resource.pk).generation == resource.generation
    # The API preview carries the figures per cluster.
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(personas["developer"])
    entries = api.post(f"/api/v1/tenants/acme/federated-resources/{resource.pk}/preview/",
                       {"template": deployment("web", replicas=5)}, format="json").json()
    quota = {e["cluster"]: e["quota"] for e in entries}
    assert quota["fed-b1"]["extra"]["pods"] == 3 and quota["fed-b1"]["left"]["pods"] == 1
    assert quota["fed-b1"]["exceeds"] == ["pods"] and quota["fed-b1"]["limit"]["pods"] == 3
    assert quota["fed-b1"]["messages"] == [WARNING.replace("fed-a1", "fed-b1")]
    # A viewer may not ask (the form's permission), an outsider does not see the resource.
    assert login(personas["viewer"]).post(base + "quota-impact/", change).status_code == 403
    assert login(personas["outsider"]).post(base + "quota-impact/", change).status_code == 404


def test_quota_and_environment_pages_show_usage_bars(topology, ftypes, personas, login):
    _deploy(topology, ftypes, pods_quota=1, replicas=2)
    _collect_until(lambda: all(b["pods"].used == 1 for b in _bars(topology["prod"]).values()))
    client = login(personas["viewer"])
    for url in ("/tenants/acme/quotas/", "/federation/acme/prod/"):
        page = client.get(url).content.decode()
        assert 'data-quota-cluster="fed-a1"' in page and 'data-quota-width="100"' in page, url
        assert 'data-chart="bar"' in page and "vendor/echarts/echarts.min.js" in page and "js/charts.js" in page
        assert "used 1 · requested 2 · left 0" in page, url
        assert ' style="' not in page  # widths come from quota.js (strict CSP)


def test_ops_dashboard_for_operators_only(topology, ftypes, personas, login):
    from django.contrib.auth.models import Permission

    from clusters.federation.models import FederatedResource, Propagation

    resource = _deploy(topology, ftypes, pods_quota=1, replicas=2)
    FederatedResource.objects.filter(pk=resource.pk).update(status={
        **resource.status, "health": {"state": "degraded", "reason": "2 of 6 pods refused by the quota"},
        "clusters": {"fed-a2": {"health": {"state": "degraded", "reason": "quota"}}}})
    Propagation.objects.filter(resource=resource, cluster__slug="fed-b1").update(state="error", error="409 boom")
    operator = personas["operator"]
    operator.user_permissions.add(Permission.objects.get(content_type__app_label="clusters", codename="view_cluster"))
    page = login(operator).get("/ops/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "409 boom" in html and resource.get_absolute_url() in html and "2 of 6 pods refused" in html
    assert 'data-ops-count="failed-propagations">1<' in html and 'data-ops-count="unhealthy-workloads">1<' in html
    topology_data = page.context["topology"]
    (region,) = topology_data["children"]
    leaves = {leaf["name"]: leaf["state"] for zone in region["children"] for cell in zone["children"]
              for leaf in cell["children"]}
    assert leaves["fed-a2"] == "degraded" and region["state"] == "degraded"
    assert 'href="/ops/"' in html  # the menu entry, for operators
    for who in ("developer", "owner"):
        client = login(personas[who])
        assert client.get("/ops/").status_code == 403
        assert 'href="/ops/"' not in client.get("/").content.decode()


def test_per_pod_need_takes_the_binding_figure_and_counts_exclusive_cores():
    pod = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
        # Guaranteed with whole cores: the static CPU manager pins 2 exclusive cores.
        {"name": "a", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}}},
        # Requests below limits: the limit binds (the quota caps both alike); no exclusive core.
        {"name": "b", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"},
                                    "limits": {"cpu": "500m", "memory": "128Mi", "ephemeral-storage": "1Gi"}}},
        # Only limits: requests default to them.
        {"name": "c", "resources": {"limits": {"cpu": "100m", "memory": "32Mi"}}}]}}}}
    assert quota_usage.per_pod_need(pod) == {"cpu_millicores": 2600, "memory_mib": 1184,
                                              "ephemeral_storage_mib": 1024, "pods": 1, "exclusive_cpuset_cores": 2}
    assert quota_usage.per_pod_need({"kind": "ConfigMap", "data": {"a": "b"}}) == {}  # runs no pods
    assert quota_usage.used_of({"used": {"requests.cpu": "250m", "limits.cpu": "1", "pods": "3",
                                         "limits.memory": "1536Mi"}}) == {"cpu_millicores": 1000, "pods": 3,
                                                                          "memory_mib": 1536}


def test_usage_fragment_refreshes_for_those_who_see_the_environment(topology, ftypes, personas, login):
    _deploy(topology, ftypes, pods_quota=1, replicas=2)
    _collect_until(lambda: all(b["pods"].used == 1 for b in _bars(topology["prod"]).values()))
    fragment = login(personas["viewer"]).get("/federation/acme/prod/quota-usage/").content.decode()
    assert 'data-quota-cluster="fed-b1"' in fragment and "used 1 · requested 2 · left 0" in fragment
    assert 'hx-trigger="paas:event from:body delay:1s"' in fragment and "federation.synced" in fragment
    assert login(personas["outsider"]).get("/federation/acme/prod/quota-usage/").status_code == 404
