"""The Dockerfile API: versions (list, save, generate, retrieve, diff), lint, templates; error
shapes naming the field; permissions (developer writes, others read, read tokens read, other
tenants 404)."""
import pytest
from django.test import Client

from applications.dockerfiles import services
from applications.models import DockerfileVersion
from paas.actors import Actor
from tests.factories import make_token

from .conftest import GOOD

pytestmark = pytest.mark.django_db


def api(client, method, path, body=None):
    url = "/api/v1/" + path
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, content_type="application/json")


@pytest.fixture
def dev(personas, login):
    return login(personas["developer"])


def base(application):
    return f"applications/{application.pk}/dockerfiles/"


def test_save_list_retrieve(dev, application):
    created = api(dev, "post", base(application), {"content": GOOD, "comment": "first"})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["number"] == 1 and body["lint_status"] == "ok" and body["content"] == GOOD
    assert body["created_by"] == "developer" and body["counts"]["error"] == 0 and body["buildable"] is True
    again = api(dev, "post", base(application), {"content": GOOD})
    assert again.status_code == 200 and again.json()["number"] == 1
    api(dev, "post", base(application), {"content": GOOD + "EXPOSE 8080\n", "comment": "port"})
    listing = api(dev, "get", base(application)).json()
    assert [v["number"] for v in listing["results"]] == [2, 1] and "content" not in listing["results"][0]
    one = api(dev, "get", base(application) + "2/").json()
    assert one["comment"] == "port" and one["findings"] == []
    assert api(dev, "get", base(application) + "7/").status_code == 404
    assert api(dev, "get", base(application) + "abc/").json()["error"]["code"] == "not_found"


def test_generate_from_a_template(dev, application):
    response = api(dev, "post", base(application), {"stack": "node", "form": {"ports": [3000, 9229]}})
    assert response.status_code == 201
    assert response.json()["stack"] == "node" and "EXPOSE 3000 9229" in response.json()["content"]
    bad = api(dev, "post", base(application), {"stack": "node", "form": {"ports": [22], "user": "root"}})
    assert bad.status_code == 400
    fields = bad.json()["error"]["fields"]["form"]
    assert set(fields) == {"ports", "user"}
    other = api(dev, "post", base(application), {"stack": "other"})
    assert other.status_code == 400 and "stack" in other.json()["error"]["fields"]


@pytest.mark.parametrize(("body", "field"), [
    ({"content": "FROOM platform/jre:17\n"}, "content"),
    ({"content": ""}, "content"),
    ({"content": "FROM platform/jre:17\n" + "# x\n" * 20000}, "content"),
    ({"content": 5}, "content"),
    ({}, "content"),
    ({"content": GOOD, "comment": "x" * 201}, "comment"),
    ({"content": GOOD, "comment": ["x"]}, "comment"),
    ({"stack": "java", "form": "nope"}, "form"),
    ({"stack": "java", "form": {"ports": "8080"}}, "form"),
])
def test_bad_input_is_a_400_naming_the_field(dev, application, body, field):
    response = api(dev, "post", base(application), body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["status"] == 400 and field in error["fields"]
    assert not DockerfileVersion.objects.exists()


def test_diff(dev, application):
    api(dev, "post", base(application), {"content": GOOD})
    api(dev, "post", base(application), {"content": GOOD.replace("10001", "10002")})
    response = api(dev, "get", base(application) + "diff/?from=1&to=2")
    body = response.json()
    assert response.status_code == 200 and body["from"] == 1 and body["to"] == 2
    assert body["stats"] == {"added": 1, "removed": 1}
    assert {"kind": "replace", "left_line": 3, "left": "USER 10001", "right_line": 3, "right": "USER 10002"} in body["rows"]
    assert "-USER 10001\n+USER 10002" in body["unified"]
    assert api(dev, "get", base(application) + "diff/?from=1&to=9").status_code == 404
    missing = api(dev, "get", base(application) + "diff/?to=2")
    assert missing.status_code == 400 and "from" in missing.json()["error"]["fields"]
    assert api(dev, "get", base(application) + "diff/?from=x&to=2").status_code == 400


def test_lint_without_saving(personas, login, tenant):
    token, plaintext = make_token(personas["viewer"], tenant, scope="read")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    response = api(client, "post", "dockerfile-lint/", {"content": "FROM ubuntu:latest\nUSER root\n",
                                                        "environment_kind": "prod"})
    assert response.status_code == 200
    body = response.json()
    assert body["lint_status"] == "errors" and body["buildable"] is False
    found = {(f["line"], f["code"], f["severity"], f["source"]) for f in body["findings"]}
    assert (1, "DL3007", "warning", "hadolint") in found
    assert (1, "platform.base-not-allowed", "error", "platform") in found
    assert (2, "platform.user-root", "error", "platform") in found
    bad = api(client, "post", "dockerfile-lint/", {"content": "x" * 70000})
    assert bad.status_code == 400 and "content" in bad.json()["error"]["fields"]
    assert api(client, "post", "dockerfile-lint/", {"content": "FROM a:1", "environment_kind": "space"}
               ).status_code == 400
    assert api(Client(), "post", "dockerfile-lint/", {"content": "FROM a:1"}).status_code in (401, 403)


def test_templates_listing(dev, base_images):
    body = api(dev, "get", "dockerfile-templates/").json()
    stacks = {entry["stack"]: entry for entry in body}
    assert set(stacks) == {"java", "go", "python", "node", "static"}
    java = stacks["java"]
    assert [b["reference"] for b in java["base_images"]] == ["platform/jre:17"]
    fields = {f["name"]: f for f in java["fields"]}
    assert fields["base_image"]["choices"] == ["platform/jre:17"] and fields["jvm_options"]["kind"] == "string"


# --- permissions ---------------------------------------------------------------------------

@pytest.mark.parametrize(("persona", "read", "write"), [
    ("owner", 200, 201), ("admin", 200, 201), ("developer", 200, 201), ("approver", 200, 403),
    ("viewer", 200, 403), ("auditor", 200, 403), ("outsider", 404, 404), ("operator", 200, 403),
])
def test_permission_matrix(personas, login, application, persona, read, write):
    client = login(personas[persona])
    assert api(client, "get", base(application)).status_code == read
    assert api(client, "get", base(application) + "diff/?from=1&to=1").status_code in (read, 404)
    response = api(client, "post", base(application), {"content": GOOD})
    assert response.status_code == write
    if write == 404:
        assert response.json()["error"]["code"] == "not_found"


def test_tokens(personas, application, tenant):
    _, read = make_token(personas["developer"], tenant, scope="read", name="r")
    _, write = make_token(personas["developer"], tenant, name="w")
    reader = Client(HTTP_AUTHORIZATION=f"Bearer {read}")
    writer = Client(HTTP_AUTHORIZATION=f"Bearer {write}")
    refused = api(reader, "post", base(application), {"content": GOOD})
    assert refused.status_code == 403 and "read-only" in refused.json()["error"]["message"]
    assert api(writer, "post", base(application), {"content": GOOD}).status_code == 201
    assert api(reader, "get", base(application) + "1/").status_code == 200


def test_a_token_of_another_tenant_sees_nothing(personas, application, other_tenant):
    _, plaintext = make_token(personas["outsider"], other_tenant)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    services.dockerfile_save(actor=Actor.for_user(personas["developer"]), application=application, content=GOOD)
    assert api(client, "get", base(application) + "1/").status_code == 404
    assert api(client, "post", base(application), {"content": GOOD}).status_code == 404
