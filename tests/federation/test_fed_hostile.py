"""Hostile federation input: wrong types, huge numbers, NUL/surrogates, deep or
exploding documents and reserved labels are quick 400s naming the field, in the
API (JSON error shape) and as form errors on the pages; nothing is stored."""
import json

import pytest
from rest_framework.test import APIClient

from clusters.federation import services
from clusters.federation.models import FederatedResource

from ..test_hostile_input import LAUGHS, error
from .conftest import SYSTEM, deployment

BASE = "/api/v1/tenants/acme/federated-resources/"


@pytest.fixture
def dev(personas):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(personas["developer"])
    return client


def post(client, template=None, raw=None, **extra):
    if raw is not None:
        return client.post(BASE, raw, content_type="application/json")
    return client.post(BASE, {"environment": "prod", "template": template or deployment("web"), **extra},
                       format="json")


def divided(total, **more):
    return {"replicaScheduling": {"type": "Divided", "totalReplicas": total, **more}}


def with_spec(spec):
    template = deployment("web")
    template["spec"] = spec
    return template


@pytest.mark.parametrize("kwargs, field, problem", [
    ({"template": with_spec([1, 2])}, "template.spec", "must be an object"),
    ({"template": with_spec("replicas: 3")}, "template.spec", "must be an object"),
    ({"template": deployment("web", replicas=10**30)}, "template.spec.replicas", "is too large a number"),
    ({"template": deployment("web", replicas=2**31)}, "template.spec.replicas", "must be at most 10000"),
    ({"placement": divided(10**30)}, "placement.replicaScheduling.totalReplicas", "is too large a number"),
    ({"placement": divided(2**31)}, "placement.replicaScheduling.totalReplicas", "must be at most 10000"),
    ({"placement": divided(3, weights={"cell-a": 2**40})}, "placement.replicaScheduling.weights.cell-a",
     "must be at most 10000"),
    ({"overrides": [{"clusters": ["fed-a1"], "operations": [
        {"op": "replace", "path": "/metadata/labels", "value": {"paas.io/tenant": "globex"}}]}]},
     "overrides[0].operations[0].value.paas.io/tenant", "the paas.io/ prefix is reserved for the platform"),
    ({"overrides": [{"clusters": ["fed-a1"], "operations": [
        {"op": "add", "path": "/metadata/annotations", "value": {"PAAS.IO/generation": "1"}}]}]},
     "overrides[0].operations[0].value.PAAS.IO/generation", "the paas.io/ prefix is reserved for the platform"),
    ({"overrides": [{"clusters": ["fed-a1"], "operations": [
        {"op": "replace", "path": "/metadata/labels", "value": ["app"]}]}]},
     "overrides[0].operations[0].value", "must map names to string values"),
    ({"overrides": [{"clusters": ["fed-a1"], "operations": [
        {"op": "add", "path": "/metadata/labels/app", "value": {"x": 1}}]}]},
     "overrides[0].operations[0].value", "must be a string"),
])
def test_wrong_types_and_bounds_are_400_naming_the_field(dev, topology, kwargs, field, problem):
    response = post(dev, **kwargs)
    assert error(response, 400)["fields"] == {field: [f"{field}: {problem}"]}
    assert not FederatedResource.objects.exists()


def raw_body(image: str) -> str:
    return json.dumps({"environment": "prod", "template": deployment("web")}).replace('"nginx:1.25"', image)


@pytest.mark.parametrize("image, problem", [
    ('"\\ud800"', "contains a lone UTF-16 surrogate (not valid Unicode)"),
    ('"a\\u0000b"', "contains a NUL character"),
])
def test_lone_surrogate_and_nul_in_a_template_are_400(dev, topology, image, problem):
    field = "template.spec.template.spec.containers[0].image"
    assert error(post(dev, raw=raw_body(image)), 400)["fields"] == {field: [f"{field}: {problem}"]}
    yaml_template = json.dumps(deployment("web")).replace('"nginx:1.25"', image)  # JSON is YAML, escapes too
    response = post(dev, template=yaml_template)
    assert error(response, 400)["fields"] == {"template": [f"{field}: {problem}"]}
    assert not FederatedResource.objects.exists()


@pytest.mark.parametrize("levels", [5_000, 100_000])
def test_deeply_nested_template_is_400(dev, topology, levels):
    raw = '{"environment": "prod", "template": ' + "[" * levels + "]" * levels + "}"
    assert error(post(dev, raw=raw), 400)["fields"] == {"template": ["template: nests deeper than 64 levels"]}
    response = post(dev, template="a: " + "[" * levels)  # as a YAML string
    assert "deeper than 64" in error(response, 400)["fields"]["template"][0]


def test_billion_laughs_in_a_preview_is_400(dev, topology, ftypes):
    resource = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                                  ftype=ftypes["Deployment"], name="web", template=deployment("web"))
    response = dev.post(f"{BASE}{resource.pk}/preview/", {"placement": LAUGHS}, format="json")
    assert "more than 32 aliases" in error(response, 400)["fields"]["placement"][0]


def test_pages_show_hostile_documents_as_form_errors(personas, login, topology, ftypes):
    client = login(personas["developer"])
    url = "/federation/acme/prod/new/"
    cases = {
        "template": (json.dumps(deployment("web")).replace('"nginx:1.25"', '"\\ud800"'), "lone UTF-16 surrogate"),
        "placement": (LAUGHS, "more than 32 aliases"),
        "overrides": ("- " * 100 + "x", "deeper than 64 levels"),
    }
    for field, (text, message) in cases.items():
        data = {"ftype": ftypes["Deployment"].pk, "template": json.dumps(deployment("web")), field: text}
        response = client.post(url, data)
        page = response.content.decode()
        assert message in page and f"id_{field}_error" in page, field
    spec_list = json.dumps(with_spec([1]))
    page = client.post(url, {"ftype": ftypes["Deployment"].pk, "template": spec_list}).content.decode()
    assert "template.spec: must be an object" in page and "id_template_error" in page
    assert not FederatedResource.objects.exists()
