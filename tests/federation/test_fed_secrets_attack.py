"""Attacks on stored Secret values through the preview (API and page).

A "***" placeholder may only mean "keep the value stored at this same path of this
same stored document". Every variant below puts "***" somewhere else; read-only
members, read-only tokens and outsiders must be refused outright, and a developer
must get a 400 naming the field (or, for a true same-path placeholder, a masked
answer). No response body may ever hold a stored value or its base64 form.
"""
import base64

import pytest
import yaml
from rest_framework.test import APIClient

from clusters.federation import services
from clusters.federation.models import FederatedResource
from tenants.models import ApiToken

from ..factories import make_token
from .conftest import SYSTEM, converge

BASE = "/api/v1/tenants/acme/federated-resources/"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


PASSWORD, TOKEN, OVERRIDDEN = "Sup3r-Secret-Passw0rd", "tok-Plain-Text-4711", "Override-Secret-9876"
# Each stored value, and the other encoding of it (data is base64; the cluster turns stringData into base64).
FORBIDDEN = [PASSWORD, b64(PASSWORD), TOKEN, b64(TOKEN), OVERRIDDEN, b64(OVERRIDDEN)]

TEMPLATE = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "annotations": {"team": "db"}},
            "data": {"password": b64(PASSWORD)}, "stringData": {"token": TOKEN}}
OVERRIDES = [{"clusters": ["fed-a1"], "operations": [
    {"op": "replace", "path": "/data/password", "value": b64(OVERRIDDEN)}]}]
SHOWN = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "annotations": {"team": "db"}},
         "data": {"password": "***"}, "stringData": {"token": "***"}}
SHOWN_OVERRIDES = [{"clusters": ["fed-a1"], "operations": [
    {"op": "replace", "path": "/data/password", "value": "***"}]}]


def _template(**changes) -> dict:
    out = {**SHOWN, "metadata": dict(SHOWN["metadata"]), "data": dict(SHOWN["data"]),
           "stringData": dict(SHOWN["stringData"])}
    for key, value in changes.items():
        out[key] = {**out.get(key, {}), **value}
    return out


def _op(op, path, value="***") -> dict:
    return {"op": op, "path": path, "value": value}


# name -> (body, field a developer is refused on, or None when the placeholder is legitimate)
VARIANTS = {
    "template: *** at another data key": (
        {"template": _template(data={"other": "***"})}, "template.data.other"),
    "template: *** under stringData with the data key's name": (
        {"template": _template(stringData={"password": "***"})}, "template.stringData.password"),
    "template: *** in an annotation": (
        {"template": _template(metadata={"annotations": {"leak": "***"}})}, "template.metadata.annotations.leak"),
    "template: *** in a label": (
        {"template": _template(metadata={"labels": {"leak": "***"}})}, "template.metadata.labels.leak"),
    "override: same position, other path (annotation)": (
        {"overrides": [{"clusters": ["fed-a1"], "operations": [_op("add", "/metadata/annotations/leak")]}]},
        "overrides[0].operations[0].value"),
    "override: same position, other path (top-level type)": (
        {"overrides": [{"clusters": ["fed-a1"], "operations": [_op("add", "/type")]}]},
        "overrides[0].operations[0].value"),
    "override: same path, other cluster": (
        {"overrides": [{"clusters": ["fed-a2"], "operations": [_op("replace", "/data/password")]}]},
        "overrides[0].operations[0].value"),
    "override: path into the Secret data, other key": (
        {"overrides": [{"clusters": ["fed-a1"], "operations": [_op("replace", "/data/password"),
                                                                 _op("add", "/data/stolen")]}]},
        "overrides[0].operations[1].value"),
    "override: list reordered, a new override first": (
        {"overrides": [{"clusters": ["fed-b1"], "operations": [_op("add", "/metadata/annotations/leak")]},
                       *SHOWN_OVERRIDES]}, "overrides[0].operations[0].value"),
    "override: *** nested in an object value": (
        {"overrides": [{"clusters": ["fed-a1"], "operations": [_op("add", "/metadata/annotations",
                                                                   {"leak": "***"})]}]},
        "overrides[0].operations[0].value.leak"),
    "override: the whole data object": (
        {"overrides": [{"clusters": ["fed-a1"], "operations": [_op("replace", "/data", {"password": "***"})]}]},
        "overrides[0].operations[0].value.password"),
    "override: same clusters through a selector": (
        {"overrides": [{"clusterSelector": {"matchLabels": {"paas.io/cluster": "fed-a1"}},
                        "operations": [_op("replace", "/data/password")]}]}, "overrides[0].operations[0].value"),
    "override: second operation at the stored path": (
        {"overrides": [{"clusters": ["fed-a1"], "operations": [_op("replace", "/data/password"),
                                                                 _op("replace", "/data/password")]}]},
        "overrides[0].operations[1].value"),
    "template and overrides as shown (same paths)": (
        {"template": SHOWN, "overrides": SHOWN_OVERRIDES}, None),
    "placement only (stored values rendered)": ({"placement": {"cells": ["cell-a"]}}, None),
}


@pytest.fixture
def secret(topology, ftypes):
    resource = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                                  ftype=ftypes["Secret"], name="db", template=TEMPLATE,
                                                  overrides=OVERRIDES)
    converge()  # the member clusters hold it: previews read and diff the live objects too
    return resource


def assert_clean(body: bytes, where: str) -> None:
    text = body.decode()
    for value in FORBIDDEN:
        assert value not in text, f"{where}: a stored secret value leaked"


def _api(personas, who):
    client = APIClient()
    if who == "read-only token":
        _row, token = make_token(personas["developer"], personas["developer"].memberships.get().tenant,
                                 scope=ApiToken.Scope.READ)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    else:
        client.force_authenticate(personas[who])
    return client


REFUSED = {"viewer": 403, "auditor": 403, "read-only token": 403, "outsider": 404}


@pytest.mark.parametrize("who", ["viewer", "auditor", "read-only token", "outsider", "developer"])
def test_preview_api_never_returns_a_stored_secret(personas, secret, who):
    client, url = _api(personas, who), f"{BASE}{secret.pk}/preview/"
    got = client.get(url)
    assert_clean(got.content, f"{who} GET")
    assert got.status_code == REFUSED.get(who, 200)
    for name, (body, field) in VARIANTS.items():
        response = client.post(url, body, format="json")
        assert_clean(response.content, f"{who} / {name}")
        if who in REFUSED:
            assert response.status_code == REFUSED[who], name
            assert response.json()["error"]["code"] in ("permission_denied", "not_found"), name
        elif field is None:
            assert response.status_code == 200, (name, response.content)
        else:
            assert response.status_code == 400, (name, response.content)
            assert field in response.json()["error"]["fields"], (name, response.json())
    stored = FederatedResource.objects.get(pk=secret.pk)
    assert (stored.template, stored.overrides, stored.generation) == (TEMPLATE, OVERRIDES, 1)


@pytest.mark.parametrize("who", ["viewer", "auditor", "outsider", "developer"])
def test_preview_page_never_returns_a_stored_secret(personas, login, secret, who):
    client = login(personas[who])
    url = f"/federation/acme/prod/{secret.pk}/preview/"
    got = client.get(url)
    assert_clean(got.content, f"{who} GET page")
    assert got.status_code == REFUSED.get(who, 200)
    for name, (body, field) in VARIANTS.items():
        form = {"template": yaml.safe_dump(body.get("template", SHOWN)),
                "placement": yaml.safe_dump(body.get("placement", {})),
                "overrides": yaml.safe_dump(body.get("overrides", SHOWN_OVERRIDES))}
        response = client.post(url, form)
        assert_clean(response.content, f"{who} page / {name}")
        if who in REFUSED:
            assert response.status_code == REFUSED[who], name
        else:
            assert response.status_code == (200 if field is None else 400), (name, response.content[:500])
            if field is not None:
                assert field in response.content.decode(), name


def test_edit_with_a_misplaced_placeholder_is_refused_and_nothing_is_saved(personas, secret):
    client = _api(personas, "developer")
    for name, (body, field) in VARIANTS.items():
        response = client.patch(f"{BASE}{secret.pk}/", body, format="json")
        assert_clean(response.content, f"PATCH / {name}")
        if field is not None:
            assert response.status_code == 400 and field in response.json()["error"]["fields"], name
            stored = FederatedResource.objects.get(pk=secret.pk)
            assert stored.template == TEMPLATE and stored.overrides == OVERRIDES, name
    # The legitimate round trip kept the stored values where they were.
    stored = FederatedResource.objects.get(pk=secret.pk)
    assert stored.template["data"]["password"] == b64(PASSWORD)
    assert stored.overrides[0]["operations"][0]["value"] == b64(OVERRIDDEN)
