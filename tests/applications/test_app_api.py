"""Applications API: the permission matrix (developers write; approvers, viewers, auditors and
operators read; read tokens cannot write; another tenant's application is a 404), and bad input
answered with a 4xx naming the field."""
import pytest
from django.test import Client

from applications import services
from paas.audit.models import AuditEvent

from ..factories import make_token
from .conftest import SYSTEM, env

pytestmark = pytest.mark.django_db

PERSONAS = ["owner", "admin", "developer", "approver", "viewer", "auditor", "operator", "outsider"]
READ = (200, 200, 200, 200, 200, 200, 200, 404)


def write(ok):
    return (ok, ok, ok, 403, 403, 403, 403, 404)


A = "applications/{app}/"
ACTIONS = {
    "list applications": ("get", "applications/", None, (200,) * 8),
    "retrieve application": ("get", A, None, READ),
    "create application": ("post", "applications/", {"tenant": "acme", "name": "billing"}, write(201)),
    "patch application": ("patch", A, {"team": "core"}, write(200)),
    "delete application": ("delete", "applications/{other}/", None, write(204)),
    "list components": ("get", A + "components/", None, READ),
    "retrieve component": ("get", A + "components/api/", None, READ),
    "create component": ("post", A + "components/", {"name": "worker", "image": "acme/payments-api:1.0"}, write(201)),
    "patch component": ("patch", A + "components/api/", {"replicas": {"test": 2}}, write(200)),
    "delete component": ("delete", A + "components/api/", None, write(204)),
    "list dependencies": ("get", A + "dependencies/", None, READ),
    "add dependency": ("post", A + "dependencies/", {"depends_on": "ledger"}, write(201)),
    "remove dependency": ("delete", "applications/{other}/dependencies/payments-api/", None, write(204)),
    "list instances": ("get", A + "instances/", None, READ),
    "retrieve instance": ("get", A + "instances/test/", None, READ),
    "create instance": ("post", A + "instances/", {"environment": "dev"}, write(201)),
    "patch instance": ("patch", A + "instances/test/", {"placement": {"cells": ["cell-a"]}}, write(200)),
    "apply revision": ("post", A + "instances/test/apply/", {"revision": 1}, write(200)),
    "list revisions": ("get", A + "revisions/", None, READ),
    "retrieve revision": ("get", A + "revisions/{revision}/", None, READ),
    "diff revision": ("get", A + "revisions/{revision}/diff/", None, READ),
    "create revision": ("post", A + "revisions/", {"environment": "dev"}, write(201)),
    "promote revision": ("post", A + "revisions/{revision}/promote/", {"environment": "pre"}, write(201)),
}
CASES = [(persona, name) for name in ACTIONS for persona in PERSONAS]


@pytest.fixture
def world(app, cells, tenant, registry):
    other = services.application_create(actor=SYSTEM, tenant=tenant, name="accounts-api")
    services.dependency_add(actor=SYSTEM, application=other, depends_on=app)
    services.application_create(actor=SYSTEM, tenant=tenant, name="ledger")
    revision = services.revision_create(actor=SYSTEM, application=app, environment=env(tenant, "test"))
    return {"app": app.pk, "other": other.pk, "revision": revision.pk}


def send(client, name, world, **extra):
    method, path, body, _expected = ACTIONS[name]
    url = "/api/v1/" + path.format(**world)
    if body is None:
        return getattr(client, method)(url, **extra)
    return getattr(client, method)(url, body, content_type="application/json", **extra)


def mark():
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.mark.parametrize("persona, name", CASES, ids=[f"{p}-{n.replace(' ', '_')}" for p, n in CASES])
def test_matrix(personas, world, login, persona, name):
    expected = ACTIONS[name][3][PERSONAS.index(persona)]
    since = mark()
    response = send(login(personas[persona]), name, world)
    assert response.status_code == expected, response.content
    outcomes = list(AuditEvent.objects.filter(id__gt=since).values_list("outcome", flat=True))
    if expected == 403:
        assert outcomes == ["denied"] and response.json()["error"]["message"]
    elif ACTIONS[name][0] != "get" and expected < 300:
        assert outcomes and set(outcomes) == {"success"}
    if persona == "outsider":
        assert "payments-api" not in response.content.decode()


@pytest.mark.parametrize("name", [n for n, a in ACTIONS.items() if a[0] != "get"])
def test_a_read_token_cannot_write(personas, world, tenant, name):
    _token, secret = make_token(personas["developer"], tenant, scope="read")
    response = send(Client(), name, world, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 403, response.content
    assert response.json()["error"]["message"] == "This API token is read-only."


def test_a_write_token_writes_and_reads(personas, world, tenant):
    _token, secret = make_token(personas["developer"], tenant, scope="write")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert send(client, "retrieve application", world).status_code == 200
    assert send(client, "patch application", world).status_code == 200


@pytest.mark.parametrize("name", list(ACTIONS))
def test_anonymous_gets_401(world, name):
    assert send(Client(), name, world).status_code == 401


# --- bad input ----------------------------------------------------------------------------------

def post(client, path, body):
    return client.post("/api/v1/" + path, body, content_type="application/json")


def fields(response) -> dict:
    return response.json()["error"].get("fields") or {}


def test_bad_input_names_the_field(personas, world, login, registry):
    client = login(personas["developer"])
    a = f"applications/{world['app']}/"
    response = post(client, a + "components/", {"name": "x", "image": "acme/x:1", "ports": [{"port": "80"}]})
    assert response.status_code == 400 and "ports[0].port" in fields(response)
    response = post(client, a + "components/", {"name": "x", "image": "acme/x:1", "cpuset_cores": "2"})
    assert response.status_code == 400 and "cpuset_cores" in fields(response)
    response = post(client, a + "components/", {"name": "worker", "image": "acme/missing:1"})
    assert response.status_code == 201
    response = post(client, a + "revisions/", {"environment": "test"})
    assert response.status_code == 400 and "components[1].image" in fields(response)
    assert "acme/missing:1 was not found" in response.json()["error"]["message"]
    response = post(client, a + "instances/", {"environment": "dev", "placement": {"cells": ["cell-a"]}})
    assert response.status_code == 400 and "placement" in fields(response)
    response = post(client, f"applications/{world['other']}/dependencies/", {"depends_on": "payments-api"})
    assert response.status_code == 201  # already there: the same edge
    response = post(client, a + "dependencies/", {"depends_on": "accounts-api"})
    assert response.status_code == 400 and "depends_on" in fields(response)
    assert "payments-api -> accounts-api -> payments-api" in response.json()["error"]["message"]
    response = post(client, a + "instances/pre/apply/", {"revision": 1})
    assert response.status_code == 404
    response = post(client, a + "revisions/", {"environment": "test", "spec": {"components": "x"}})
    assert response.status_code == 400 and "spec.components" in fields(response)
    response = post(client, a + "revisions/", {"environment": "nope"})
    assert response.status_code == 400 and "environment" in fields(response)


def test_quota_refusal_is_a_400_naming_the_quota(personas, world, login, tenant):
    from tenants import services as tenant_services

    tenant_services.quota_update(actor=SYSTEM, quota=env(tenant, "dev").quota, memory_mib=100)
    response = post(login(personas["developer"]), f"applications/{world['app']}/revisions/", {"environment": "dev"})
    assert response.status_code == 400 and "quota" in fields(response)
    assert "memory: needs 512Mi, quota 100Mi" in response.json()["error"]["message"]


def test_secret_values_never_come_back(personas, world, login):
    client = login(personas["developer"])
    response = client.get(f"/api/v1/applications/{world['app']}/components/api/")
    assert response.json()["secret_env"] == {"DB_PASSWORD": "set"}
    assert "s3cret" not in response.content.decode()
    revision = client.get(f"/api/v1/applications/{world['app']}/revisions/{world['revision']}/").content.decode()
    assert "s3cret" not in revision and "DB_PASSWORD" in revision


def test_apply_then_diff_and_promote(personas, world, login, tenant, registry):
    client = login(personas["developer"])
    a = f"/api/v1/applications/{world['app']}/"
    response = client.post(a + "instances/test/apply/", {"revision": 1}, content_type="application/json")
    assert response.status_code == 200 and response.json()["baseline"] == 1
    kinds = sorted(r["kind"] for r in response.json()["resources"])
    assert kinds == ["ConfigMap", "Deployment", "Secret", "Secret", "Service"]  # secret env, and the pull secret
    registry.push("acme/payments-api", "1.1")
    client.patch(a + "components/api/", {"image": "acme/payments-api:1.1"}, content_type="application/json")
    second = client.post(a + "revisions/", {"environment": "test"}, content_type="application/json").json()
    assert second["number"] == 2 and not second["is_baseline"]
    again = client.post(a + "revisions/", {"environment": "test"}, content_type="application/json")
    assert again.status_code == 200 and again.json()["id"] == second["id"]
    rows = client.get(a + f"revisions/{second['id']}/diff/").json()
    assert [r["path"] for r in rows] == ["components[api].image"]
    rows = client.get(a + f"revisions/{second['id']}/diff/?from={second['id']}").json()
    assert rows == []
    assert client.get(a + f"revisions/{second['id']}/diff/?from=abc").status_code == 400
    promoted = client.post(a + f"revisions/{second['id']}/promote/", {"environment": "pre"},
                           content_type="application/json")
    assert promoted.status_code == 201 and promoted.json()["promoted_from"] == "test r2"
    assert promoted.json()["spec"] == second["spec"]
    listing = client.get(a + "revisions/?environment=test").json()
    assert [r["number"] for r in listing["results"]] == [2, 1]
    assert [r["is_baseline"] for r in listing["results"]] == [False, True]
