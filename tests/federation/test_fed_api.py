"""REST API: federated types and resources, the permission matrix, tokens, errors."""
import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from clusters.federation import services
from clusters.federation.models import FederatedResource
from paas.audit.models import AuditEvent
from tenants.models import ApiToken

from ..factories import make_token
from .conftest import SYSTEM, converge, deployment

BASE = "/api/v1/tenants/acme/federated-resources/"


def api(user=None, token=None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    elif user:
        client.force_authenticate(user)
    return client


@pytest.fixture
def resource(topology, ftypes):
    return services.federated_resource_create(actor=SYSTEM, environment=topology["prod"], ftype=ftypes["Deployment"],
                                              name="web", template=deployment("web"))


def body(name="shop", **extra):
    return {"environment": "prod", "template": deployment(name), **extra}


@pytest.mark.parametrize("who,read,write", [("developer", 200, 201), ("admin", 200, 201), ("viewer", 200, 403),
                                            ("auditor", 200, 403), ("outsider", 404, 404)])
def test_permission_matrix(personas, resource, who, read, write):
    client = api(personas[who])
    assert client.get(BASE).status_code == read
    assert client.get(f"{BASE}{resource.pk}/").status_code == read
    assert client.get(f"{BASE}{resource.pk}/status/").status_code == read
    # A preview is refused like the change it previews.
    assert client.get(f"{BASE}{resource.pk}/preview/").status_code == (200 if write == 201 else write)
    assert client.post(BASE, body(), format="json").status_code == write
    patched = client.patch(f"{BASE}{resource.pk}/", {"placement": {"cells": ["cell-a"]}}, format="json")
    assert patched.status_code == (200 if write == 201 else write)
    assert client.delete(f"{BASE}{resource.pk}/").status_code == (202 if write == 201 else write)


def test_list_detail_and_filters(personas, resource):
    client = api(personas["viewer"])
    listed = client.get(BASE, {"environment": "prod"}).json()
    assert [r["name"] for r in listed["results"]] == ["web"]
    assert listed["results"][0]["type"] == "apps/v1/Deployment"
    assert client.get(BASE, {"environment": "dev"}).json()["results"] == []
    detail = client.get(f"{BASE}{resource.pk}/").json()
    assert {p["cluster"] for p in detail["propagations"]} == {"fed-a1", "fed-a2", "fed-b1"}
    assert all(p["state"] == "pending" for p in detail["propagations"])
    assert api(personas["outsider"]).get("/api/v1/tenants/globex/federated-resources/").json()["results"] == []


def test_create_with_yaml_strings_and_type_from_template(personas, topology):
    client = api(personas["developer"])
    yaml_template = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {LOG: info}\n")
    response = client.post(BASE, {"environment": "prod", "template": yaml_template,
                                  "placement": "cells: [cell-b]"}, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["type"] == "v1/ConfigMap" and created["name"] == "settings"
    assert [p["cluster"] for p in created["propagations"]] == ["fed-b1"]
    assert AuditEvent.objects.filter(action="federation.resource.create", actor_label="developer").exists()


def test_errors_name_the_field(personas, resource):
    client = api(personas["developer"])
    response = client.post(BASE, body(placement={"replicaScheduling": {
        "type": "Divided", "totalReplicas": 3, "weights": {"sim-9": 2}}}), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"] == {"placement.replicaScheduling.weights.sim-9": [
        "placement.replicaScheduling.weights.sim-9: unknown cluster"]}
    response = client.post(BASE, body(name="web"), format="json")
    assert response.status_code == 409 and "name" in response.json()["error"]["fields"]
    response = client.post(BASE, {"environment": "prod", "template": {"apiVersion": "v9", "kind": "Nope"}},
                           format="json")
    assert response.status_code == 400 and "type" in response.json()["error"]["fields"]
    response = client.post(BASE, body(environment="staging"), format="json")
    assert response.status_code == 400 and "environment" in response.json()["error"]["fields"]
    response = client.patch(f"{BASE}{resource.pk}/", {"overrides": [{"clusters": ["fed-a1"], "operations": [
        {"op": "replace", "path": "/spec/missing/x", "value": 1}]}]}, format="json")
    assert response.status_code == 400
    assert "overrides[0].operations[0].path" in response.json()["error"]["fields"]
    response = client.patch(f"{BASE}{resource.pk}/", {"placement": {"clusters": ["fed-b1"]}}, format="json")
    assert response.status_code == 200 and response.json()["generation"] == 2
    dev = api(personas["developer"]).post(BASE, body(environment="dev", placement={"cells": ["cell-a"]}),
                                          format="json")
    assert dev.status_code == 400 and "not bound to environment acme/dev" in dev.json()["error"]["message"]
    assert client.get(f"{BASE}{resource.pk}/endpoints/").status_code == 400


def test_tokens(personas, resource):
    _token, read_only = make_token(personas["developer"], resource.tenant, scope=ApiToken.Scope.READ)
    _token, write = make_token(personas["developer"], resource.tenant, scope=ApiToken.Scope.WRITE)
    assert api(token=read_only).get(BASE).status_code == 200
    assert api(token=read_only).post(BASE, body(), format="json").status_code == 403
    assert api(token=write).post(BASE, body(), format="json").status_code == 201
    _token, globex = make_token(personas["outsider"], personas["outsider"].memberships.get().tenant)
    assert api(token=globex).get(f"{BASE}{resource.pk}/").status_code == 404
    assert api(token=write).post("/api/v1/federated-types/register-crd/", {"cluster": "fed-a1", "crd": "x.y"},
                                 format="json").status_code == 403


def test_preview_and_status_actions(personas, resource):
    client = api(personas["developer"])
    converge()
    entries = client.get(f"{BASE}{resource.pk}/preview/").json()
    assert {e["action"] for e in entries} == {"unchanged"}
    proposed = client.post(f"{BASE}{resource.pk}/preview/", {"placement": {"cells": ["cell-b"]}}, format="json").json()
    assert {e["cluster"]: e["action"] for e in proposed} == {"fed-a1": "delete", "fed-a2": "delete",
                                                             "fed-b1": "update"}
    assert FederatedResource.objects.get(pk=resource.pk).placement == {}
    status = client.get(f"{BASE}{resource.pk}/status/").json()
    assert status["status"]["converged"] and status["status"]["totals"]["desired"] == 9


def test_types_api(personas, topology):
    listed = api(personas["viewer"]).get("/api/v1/federated-types/").json()["results"]
    assert {t["kind"] for t in listed} == {"Deployment", "Service", "ConfigMap", "Secret"}
    assert api(personas["developer"]).post("/api/v1/federated-types/register-crd/",
                                           {"cluster": "fed-a1", "crd": "x.example.com"},
                                           format="json").status_code == 403
    deployment_type = next(t for t in listed if t["kind"] == "Deployment")
    assert api(personas["developer"]).patch(f"/api/v1/federated-types/{deployment_type['id']}/",
                                            {"enabled": False}, format="json").status_code == 403
    operator = personas["operator"]
    operator.user_permissions.add(*Permission.objects.filter(content_type__app_label="federation",
                                                             codename__endswith="_federatedtype"))
    response = api(operator).post("/api/v1/federated-types/register-crd/", {"cluster": "nowhere", "crd": "x.y"},
                                  format="json")
    assert response.status_code == 400 and "cluster" in response.json()["error"]["fields"]
    response = api(operator).patch(f"/api/v1/federated-types/{deployment_type['id']}/", {"enabled": False},
                                   format="json")
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert "Deployment" not in {t["kind"] for t in api(personas["viewer"]).get("/api/v1/federated-types/").json()[
        "results"]}
    refused = api(personas["developer"]).post(BASE, body(), format="json")
    assert refused.status_code == 400


def test_outsiders_and_anonymous_get_nothing(personas, resource):
    outsider = api(personas["outsider"])
    for method, suffix in (("get", "endpoints/"), ("post", "preview/"), ("get", "status/")):
        assert getattr(outsider, method)(f"{BASE}{resource.pk}/{suffix}", {}, format="json").status_code == 404
    anonymous = APIClient()
    assert anonymous.get(BASE).status_code == 401
    assert anonymous.get("/api/v1/federated-types/").status_code == 401
    refused = api(personas["viewer"]).post(f"{BASE}{resource.pk}/preview/", {}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"


def test_a_change_with_base_generation_is_refused_when_someone_saved_since(personas, resource):
    client = api(personas["developer"])
    newer = deployment("web", image="nginx:1.27")
    stale = client.patch(f"{BASE}{resource.pk}/", {"template": newer, "base_generation": resource.generation + 5},
                         format="json")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_preview"
    assert FederatedResource.objects.get(pk=resource.pk).generation == resource.generation  # nothing saved
    fresh = client.patch(f"{BASE}{resource.pk}/", {"template": newer, "base_generation": resource.generation},
                         format="json")
    assert fresh.status_code == 200 and fresh.json()["generation"] == resource.generation + 1
    for bad in (0, -1, "x", 2 ** 40):
        assert client.patch(f"{BASE}{resource.pk}/", {"base_generation": bad}, format="json").status_code == 400
