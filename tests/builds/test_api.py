"""Builds API: the permission matrix (developers write; viewers, auditors and approvers read;
read tokens cannot write; another tenant's application is a 404), build creation refusals in
the JSON error shape, and the log's `?after=` resume."""
import pytest
from django.test import Client

from applications.builds import runner, services
from applications.builds.models import Build
from paas.actors import Actor
from paas.audit.models import AuditEvent
from tenants.models import ApiToken
from tests.factories import make_token

pytestmark = pytest.mark.django_db

PERSONAS = ["owner", "admin", "developer", "approver", "viewer", "auditor", "operator", "outsider"]

ACTIONS = {
    "list artifacts": ("get", "artifacts/", None),
    "retrieve artifact": ("get", "artifacts/{artifact}/", None),
    "list builds": ("get", "builds/", None),
    "retrieve build": ("get", "builds/1/", None),
    "build log": ("get", "builds/1/log/", None),
    "start build": ("post", "builds/", {"dockerfile": 1, "artifact": "{artifact}", "tag": "2.0.0"}),
    "cancel build": ("post", "builds/1/cancel/", None),
}
#                       owner admin  dev  appr  view  audit  oper  outs
EXPECTED = {
    "list artifacts":    (200, 200, 200, 200, 200, 200, 200, 404),
    "retrieve artifact": (200, 200, 200, 200, 200, 200, 200, 404),
    "list builds":       (200, 200, 200, 200, 200, 200, 200, 404),
    "retrieve build":    (200, 200, 200, 200, 200, 200, 200, 404),
    "build log":         (200, 200, 200, 200, 200, 200, 200, 404),
    "start build":       (201, 201, 201, 403, 403, 403, 403, 404),
    "cancel build":      (200, 200, 200, 403, 403, 403, 403, 404),
}


@pytest.fixture
def world(personas, app, dockerfile, artifact):
    build = services.build_start(actor=Actor.for_user(personas["developer"]), application=app,
                                 dockerfile=dockerfile, artifact=artifact, tag="1.0.0")
    return {"app": app, "artifact": artifact.pk, "build": build}


def send(client, app, name, world, **headers):
    method, path, body = ACTIONS[name]
    url = f"/api/v1/applications/{app.pk}/" + path.format(**world)
    if body is None:
        return getattr(client, method)(url, **headers)
    body = {k: (world["artifact"] if v == "{artifact}" else v) for k, v in body.items()}
    return getattr(client, method)(url, body, content_type="application/json", **headers)


CASES = [(persona, name) for name in ACTIONS for persona in PERSONAS]


@pytest.mark.parametrize("persona, name", CASES, ids=[f"{p}-{n.replace(' ', '_')}" for p, n in CASES])
def test_matrix(personas, login, world, persona, name):
    response = send(login(personas[persona]), world["app"], name, world)
    expected = EXPECTED[name][PERSONAS.index(persona)]
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response.json()["error"]["status"] == expected
    if persona == "outsider":
        assert "acme" not in response.content.decode().lower()
    if expected == 403:
        assert AuditEvent.objects.filter(outcome="denied").exists()


def test_anonymous_is_401(world):
    for name in ACTIONS:
        assert send(Client(), world["app"], name, world).status_code == 401, name


def test_read_token_reads_and_cannot_write(personas, client, world, tenant):
    _token, secret = make_token(personas["developer"], tenant, scope=ApiToken.Scope.READ, name="r")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert send(client, world["app"], "list builds", world, **headers).status_code == 200
    refused = send(client, world["app"], "start build", world, **headers)
    assert refused.status_code == 403 and "read-only" in refused.json()["error"]["message"]
    assert send(client, world["app"], "cancel build", world, **headers).status_code == 403


def test_a_token_of_another_tenant_sees_nothing(personas, client, world, other_tenant):
    _token, secret = make_token(personas["outsider"], other_tenant, name="o")
    response = send(client, world["app"], "list builds", world, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 404


def test_start_refusals_name_the_field(personas, login, world, bad_dockerfile):
    client = login(personas["developer"])
    url = f"/api/v1/applications/{world['app'].pk}/builds/"
    cases = [
        ({"dockerfile": 2, "tag": "1"}, "dockerfile", "lint errors"),
        ({"dockerfile": 99, "tag": "1"}, "dockerfile", "no such"),
        ({"dockerfile": 1, "artifact": 999999, "tag": "1"}, "artifact", "no such"),
        ({"dockerfile": 1, "tag": "-bad"}, "tag", ""),
        ({"dockerfile": "1", "tag": "1"}, "dockerfile", "integer"),
        ({"dockerfile": 1, "tag": 5}, "tag", "string"),
        ({"dockerfile": 1, "tag": "1", "build_args": {"A": 1}}, "build_args", ""),
        ({"dockerfile": 1, "tag": "1", "build_args": "x"}, "build_args", ""),
        ({"dockerfile": 2 ** 70, "tag": "1"}, "dockerfile", ""),
        ({"tag": "1"}, "dockerfile", ""),
    ]
    for body, field, words in cases:
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
        error = response.json()["error"]
        assert field in error["fields"], (body, error)
        assert words in str(error["fields"][field]), (body, error)
    lint = client.post(url, {"dockerfile": 2, "tag": "1"}, content_type="application/json").json()["error"]
    assert "line 1: Using latest" in lint["fields"]["dockerfile"][0]


def test_start_and_retrieve(personas, login, world):
    client = login(personas["developer"])
    base = f"/api/v1/applications/{world['app'].pk}/builds/"
    created = client.post(base, {"dockerfile": 1, "artifact": world["artifact"], "tag": "2.0.0",
                                 "build_args": {"JAVA_VERSION": "17"}}, content_type="application/json")
    assert created.status_code == 201
    body = created.json()
    assert body["number"] == 2 and body["state"] == "queued" and body["dockerfile"] == 1
    assert body["artifact"]["id"] == world["artifact"] and body["build_args"] == {"JAVA_VERSION": "17"}
    listed = client.get(base).json()
    assert [b["number"] for b in listed["results"]] == [2, 1] and "provenance" not in listed["results"][0]
    assert client.get(base + "?state=queued").json()["count"] == 2
    detail = client.get(base + "2/").json()
    assert detail["provenance"] == {} and detail["image"] == ""
    for missing in ("999/", "x/", "0/"):
        assert client.get(base + missing).status_code == 404
    assert client.get("/api/v1/applications/nope/builds/").status_code == 404
    assert client.get("/api/v1/applications/99999999999999999999999/builds/").status_code == 404


def test_log_resumes_after_the_last_number_seen(personas, login, world, fake_registry, monkeypatch):
    runner.run(world["build"].pk)
    build = Build.objects.get(pk=world["build"].pk)
    client = login(personas["viewer"])
    url = f"/api/v1/applications/{world['app'].pk}/builds/1/log/"
    everything = client.get(url).json()
    assert everything["build"] == build.pk and everything["finished"] is True
    assert everything["state"] == "succeeded" and everything["last"] == build.log_lines
    assert [line["number"] for line in everything["lines"]] == list(range(1, build.log_lines + 1))
    resumed = client.get(url + "?after=5&limit=3").json()
    assert [line["number"] for line in resumed["lines"]] == [6, 7, 8]
    assert [line["text"] for line in resumed["lines"]] == [line["text"] for line in everything["lines"][5:8]]
    assert client.get(url + f"?after={build.log_lines}").json()["lines"] == []
    for bad in ("?after=-1", "?after=x", "?limit=0", "?limit=100000", "?after=99999999999"):
        response = client.get(url + bad)
        assert response.status_code == 400, bad
        assert set(response.json()["error"]["fields"]) <= {"after", "limit"}


def test_succeeded_build_shows_image_by_digest(personas, login, world, fake_registry):
    runner.run(world["build"].pk)
    detail = login(personas["viewer"]).get(f"/api/v1/applications/{world['app'].pk}/builds/1/").json()
    assert detail["image"] == f"127.0.0.1:8000/acme/payments-api@{detail['image_digest']}"
    assert detail["provenance"]["artifact"]["name"] == "app.jar" and detail["duration_seconds"] >= 0


def test_cancel_via_api(personas, login, world):
    response = login(personas["developer"]).post(f"/api/v1/applications/{world['app'].pk}/builds/1/cancel/")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
