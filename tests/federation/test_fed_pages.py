"""Portal pages: the permission matrix (developer of acme may create; viewer 403;
outsider 404; operators for types), form errors next to the field, auditing."""
import pytest
from django.contrib.auth.models import Permission

from clusters.federation import services
from clusters.federation.models import FederatedResource
from paas.audit.models import AuditEvent

from .conftest import SYSTEM, converge, deployment

TEMPLATE = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers:
      - name: main
        image: nginx:1.25
        resources:
          requests: {cpu: 10m, memory: 16Mi, ephemeral-storage: 16Mi}
          limits: {cpu: 10m, memory: 16Mi, ephemeral-storage: 16Mi}
"""


@pytest.fixture
def resource(topology, ftypes):
    return services.federated_resource_create(actor=SYSTEM, environment=topology["prod"], ftype=ftypes["Deployment"],
                                              name="web", template=deployment("web"))


def urls(res):
    base = f"/federation/acme/prod/{res.pk}/"
    return {"detail": base, "status": base + "status/", "preview": base + "preview/", "edit": base + "edit/"}


@pytest.mark.parametrize("who,expected", [("developer", 200), ("viewer", 200), ("auditor", 200), ("outsider", 404)])
def test_read_pages(personas, login, resource, who, expected):
    client = login(personas[who])
    for url in ["/federation/acme/", "/federation/acme/prod/", *urls(resource).values()]:
        if url.endswith("edit/"):
            continue
        response = client.get(url)
        # A preview needs the permission of the change it previews.
        wanted = 403 if url.endswith("preview/") and who in ("viewer", "auditor") else expected
        assert response.status_code == wanted, url
    if expected == 200:
        page = client.get(urls(resource)["detail"]).content.decode()
        assert "fed-a1" in page and 'hx-trigger="live-refresh"' in page
        assert "web" in client.get("/federation/acme/prod/").content.decode()


def test_outsider_sees_nothing_of_acme(personas, login, resource):
    client = login(personas["outsider"])
    assert client.get("/federation/globex/").status_code == 200
    page = client.get("/federation/globex/prod/").content.decode()
    assert "web" not in page and "acme" not in page
    assert client.post("/federation/acme/prod/new/", {"ftype": 1}).status_code == 404
    assert client.post(urls(resource)["edit"], {"template": TEMPLATE}).status_code == 404
    assert client.post(urls(resource)["detail"] + "delete/").status_code == 404


@pytest.mark.parametrize("who,expected", [("developer", 200), ("viewer", 403), ("approver", 403), ("outsider", 404)])
def test_create_and_edit_forms(personas, login, resource, who, expected):
    client = login(personas[who])
    assert client.get("/federation/acme/prod/new/").status_code == expected
    assert client.get(urls(resource)["edit"]).status_code == expected


def test_developer_creates_edits_previews_and_deletes(personas, login, topology, ftypes):
    client = login(personas["developer"])
    response = client.post("/federation/acme/prod/new/", {
        "ftype": ftypes["Deployment"].pk, "template": TEMPLATE,
        "placement": "replicaScheduling: {type: Divided, totalReplicas: 4}"})
    res = FederatedResource.objects.get(name="shop")
    assert response.status_code == 302 and response["Location"] == res.get_absolute_url()
    assert {p.cluster.slug: p.planned_replicas for p in res.propagations.all()} == {"fed-a1": 2, "fed-a2": 1,
                                                                                     "fed-b1": 1}
    event = AuditEvent.objects.get(action="federation.resource.create")
    assert event.actor_label == "developer" and event.tenant_slug == "acme"
    converge()
    changed = TEMPLATE.replace("nginx:1.25", "nginx:1.26")
    page = client.post(urls(res)["preview"], {"template": changed, "placement": "", "overrides": ""})
    assert page.status_code == 200 and "nginx:1.26" in page.content.decode()
    res.refresh_from_db()
    assert res.generation == 1
    response = client.post(urls(res)["edit"], {"template": changed, "placement": "", "overrides": ""})
    assert response.status_code == 302
    res.refresh_from_db()
    assert res.generation == 2 and res.placement == {}
    assert AuditEvent.objects.filter(action="federation.resource.update", actor_label="developer").exists()
    assert client.post(urls(res)["detail"] + "delete/").status_code == 302
    assert AuditEvent.objects.filter(action="federation.resource.delete", actor_label="developer").exists()


def test_form_errors_are_shown_next_to_the_field(personas, login, topology, ftypes):
    client = login(personas["developer"])
    url = "/federation/acme/prod/new/"
    page = client.post(url, {"ftype": ftypes["Deployment"].pk, "template": "kind: [unclosed"}).content.decode()
    assert "Not valid YAML or JSON" in page and "id_template_error" in page
    page = client.post(url, {"ftype": ftypes["Deployment"].pk, "template": TEMPLATE, "placement":
                             "replicaScheduling: {type: Divided, totalReplicas: 3, weights: {sim-9: 1}}"}
                       ).content.decode()
    assert "placement.replicaScheduling.weights.sim-9: unknown cluster" in page and "id_placement_error" in page
    page = client.post(url, {"ftype": ftypes["Deployment"].pk, "template": TEMPLATE, "overrides":
                             "- clusters: [fed-a1]\n  operations: [{op: replace, path: /spec/nope/x, value: 1}]"}
                       ).content.decode()
    assert "overrides[0].operations[0].path" in page and "id_overrides_error" in page
    assert not FederatedResource.objects.exists()


def test_denied_changes_are_403_and_audited(personas, login, resource):
    client = login(personas["viewer"])
    assert client.post("/federation/acme/prod/new/", {"template": TEMPLATE}).status_code == 403
    assert client.post(urls(resource)["edit"], {"template": TEMPLATE}).status_code == 403
    assert client.post(urls(resource)["detail"] + "delete/").status_code == 403
    denied = set(AuditEvent.objects.filter(outcome="denied", actor_label="viewer").values_list("action", flat=True))
    assert denied == {"federation.resource.create", "federation.resource.update", "federation.resource.delete"}
    assert FederatedResource.objects.get(pk=resource.pk).deleting is False


def test_types_page_is_for_operators(personas, login, topology):
    for who in ("developer", "operator"):  # the persona operator has tenant permissions only
        assert login(personas[who]).get("/federation/-/types/").status_code == 403
        assert login(personas[who]).post("/federation/-/types/register/",
                                         {"cluster": "fed-a1", "crd": "x.example.com"}).status_code == 403
    operator = personas["operator"]
    operator.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="federation", codename__in=["view_federatedtype", "add_federatedtype",
                                                            "change_federatedtype"]))
    client = login(operator)
    page = client.get("/federation/-/types/").content.decode()
    assert "Deployment" in page and "Register a CRD from a cluster" in page
    response = client.post("/federation/-/types/register/", {"cluster": "fed-a1", "crd": "nothing.example.com"})
    assert response.status_code == 400 and "no CustomResourceDefinition" in response.content.decode()


def test_service_discovery_page(personas, login, topology, ftypes):
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
               "spec": {"selector": {"app": "api"}, "ports": [{"port": 80}]}}
    svc = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"], ftype=ftypes["Service"],
                                             name="api", template=service)
    converge()
    url = f"/federation/acme/prod/{svc.pk}/endpoints/"
    page = login(personas["viewer"]).get(url).content.decode()
    assert "api.acme-prod.cell-a.global" in page and "api.acme-prod.cell-b.global" in page
    assert login(personas["outsider"]).get(url).status_code == 404


def test_anonymous_is_sent_to_login_and_type_toggle_is_for_operators(personas, login, resource, ftypes):
    from django.test import Client

    anonymous = Client()
    for url in ["/federation/", "/federation/acme/prod/", urls(resource)["detail"], "/federation/-/types/"]:
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login" in response["Location"], url
    toggle = f"/federation/-/types/{ftypes['Deployment'].pk}/toggle/"
    assert login(personas["developer"]).post(toggle).status_code == 403
    assert login(personas["developer"]).get(toggle).status_code == 405
    assert ftypes["Deployment"].__class__.objects.get(pk=ftypes["Deployment"].pk).enabled
    superuser = login(personas["superuser"])
    assert superuser.post(toggle).status_code == 302
    assert not ftypes["Deployment"].__class__.objects.get(pk=ftypes["Deployment"].pk).enabled
    assert AuditEvent.objects.filter(action="federation.type.update", actor_label="root").exists()
