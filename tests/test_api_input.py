"""API input is JSON with strict types: wrong types, blank names and other content
types are refused in the one error shape, never coerced or silently skipped."""
import json

import pytest
from django.test import Client
from django.test.client import MULTIPART_CONTENT, encode_multipart
from rest_framework import serializers

from clusters.models import Region, Zone
from paas.api.strict import type_errors

from .factories import make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_api(personas, tenant):
    _, plaintext = make_token(personas["owner"], tenant)
    return Client(headers={"Authorization": f"Bearer {plaintext}"})


@pytest.fixture
def operator_api(personas, login):
    # Quotas are the platform's to set: only an operator may PATCH them.
    return login(personas["operator"])


def patch_json(client, url, body):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def assert_invalid(response, field):
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"], error
    assert response.json()["request_id"]


@pytest.mark.parametrize(("url", "body", "field"), [
    ("/api/v1/tenants/acme/", {"is_active": "false"}, "is_active"),
    ("/api/v1/tenants/acme/", {"is_active": 0}, "is_active"),
    ("/api/v1/tenants/acme/", {"name": 5}, "name"),
    ("/api/v1/tenants/acme/environments/dev/", {"protected": "true"}, "protected"),
    ("/api/v1/tenants/acme/quotas/dev/", {"cpu_millicores": "5"}, "cpu_millicores"),
    ("/api/v1/tenants/acme/quotas/dev/", {"pods": 5.0}, "pods"),
    ("/api/v1/tenants/acme/quotas/dev/", {"pods": True}, "pods"),
])
def test_wrong_json_types_are_refused_not_coerced(personas, owner_api, operator_api, tenant, url, body, field):
    client = operator_api if "/quotas/" in url else owner_api
    before = client.get(url).json()
    assert_invalid(patch_json(client, url, body), field)
    assert client.get(url).json() == before  # nothing changed


def test_right_json_types_are_accepted(owner_api, operator_api, tenant):
    response = patch_json(operator_api, "/api/v1/tenants/acme/quotas/dev/", {"pods": 7})
    assert response.status_code == 200 and response.json()["pods"] == 7
    response = patch_json(owner_api, "/api/v1/tenants/acme/environments/dev/", {"protected": True, "name": "Dev"})
    assert response.status_code == 200 and response.json()["protected"] is True


@pytest.mark.parametrize("name", ["", "   "])
@pytest.mark.parametrize("url", ["/api/v1/tenants/acme/", "/api/v1/tenants/acme/environments/dev/"])
def test_blank_names_are_refused_on_patch(owner_api, tenant, url, name):
    assert_invalid(patch_json(owner_api, url, {"name": name}), "name")
    assert owner_api.get(url).json()["name"].strip()


def test_form_input_is_unsupported_media_type_not_a_silent_skip(owner_api, tenant):
    # As a form, a blank name used to be dropped from a partial update (200, nothing said).
    response = owner_api.patch("/api/v1/tenants/acme/environments/dev/",
                               data=encode_multipart("BoUnDaRy", {"name": ""}),
                               content_type="multipart/form-data; boundary=BoUnDaRy")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_multipart_on_an_action_is_a_415_in_the_error_shape(personas, login):
    zone = Zone.objects.create(region=Region.objects.create(slug="east", name="East"), slug="east-1", name="E1")
    client = login(personas["superuser"])
    response = client.post(f"/api/v1/zones/{zone.slug}/mark-failed/", data={"reason": "drill"},
                           content_type=MULTIPART_CONTENT)
    assert response.status_code == 415
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["status"] == 415
    zone.refresh_from_db()
    assert zone.failed is False


class _Sample(serializers.Serializer):
    flag = serializers.BooleanField(required=False)
    count = serializers.IntegerField(required=False, allow_null=True)
    name = serializers.CharField(required=False)
    labels = serializers.DictField(child=serializers.CharField(), required=False)
    tags = serializers.ListField(child=serializers.IntegerField(), required=False)
    doc = serializers.JSONField(required=False)
    fixed = serializers.CharField(read_only=True)


def test_type_errors_checks_containers_and_leaves_null_and_json_to_the_field():
    ok = {"flag": False, "count": None, "name": "x", "labels": {"a": "b"}, "tags": [1, 2], "doc": "any", "fixed": 1}
    assert type_errors(_Sample(), ok) == {}
    errors = type_errors(_Sample(), {"flag": 1, "count": "3", "name": [], "labels": {"a": 1}, "tags": [1, "2"]})
    assert set(errors) == {"flag", "count", "name", "labels", "tags"}
    assert set(errors["labels"]) == {"a"} and set(errors["tags"]) == {1}
    assert type_errors(_Sample(), ["not", "a", "dict"]) == {}
