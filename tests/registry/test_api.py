"""/api/v1/registry/repositories/ and /api/v1/registries/: who sees and changes what."""
import base64

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from applications.registry.auth import issue_token
from applications.registry.external import credentials_for, registry_for
from applications.registry.models import ExternalRegistry, Repository, Tag
from paas.audit.models import AuditEvent
from tenants.models import ApiToken
from tests.factories import make_token

from . import images
from .test_v2_inprocess import push

pytestmark = pytest.mark.django_db


@pytest.fixture
def pushed(personas, tenant, other_tenant):
    """acme/api:v1 (+ provenance referrer), acme/api:v2, globex/core:1 and platform/jre:17."""
    _, raw = make_token(personas["developer"], tenant, ApiToken.Scope.WRITE)
    dev = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"developer:{raw}".encode()).decode()}
    client = Client()
    app = images.image([{"app.jar": b"1"}])
    assert push(client, dev, "acme/api", app, "v1").status_code == 201
    assert push(client, dev, "acme/api", images.image([{"app.jar": b"2"}]), "v2").status_code == 201
    provenance = images.artifact(app, artifact_type="application/vnd.paas.provenance.v1+json", payload=b"{}")
    assert push(client, dev, "acme/api", provenance, provenance.digest).status_code == 201
    system = {"HTTP_AUTHORIZATION": "Bearer " + issue_token(
        user=None, tenant=other_tenant, scopes=["repository:globex/core:pull,push", "repository:platform/jre:*"])}
    assert push(client, system, "globex/core", images.image([{"c": b"g"}]), "1").status_code == 201
    assert push(client, system, "platform/jre", images.image([{"jre": b"17"}]), "17").status_code == 201
    return {"app": app, "provenance": provenance}


def api(login, user):
    return login(user)


def test_repositories_are_scoped(personas, login, pushed):
    names = [r["name"] for r in login(personas["developer"]).get("/api/v1/registry/repositories/").json()["results"]]
    assert names == ["acme/api", "platform/jre"]
    names = [r["name"] for r in login(personas["outsider"]).get("/api/v1/registry/repositories/").json()["results"]]
    assert names == ["globex/core", "platform/jre"]
    only = login(personas["viewer"]).get("/api/v1/registry/repositories/?platform=false").json()["results"]
    assert [r["name"] for r in only] == ["acme/api"]
    assert only[0]["tenant"] == "acme" and only[0]["tags"] == 2 and only[0]["size"] > 0
    assert only[0]["pull"].endswith("/acme/api")
    globex = Repository.objects.get(name="globex/core")
    assert login(personas["developer"]).get(f"/api/v1/registry/repositories/{globex.pk}/").status_code == 404
    assert login(personas["developer"]).get("/api/v1/registry/repositories/nope/").status_code == 404


def test_tags_with_digests_and_referrers(personas, login, pushed):
    repository = Repository.objects.get(name="acme/api")
    body = login(personas["auditor"]).get(f"/api/v1/registry/repositories/{repository.pk}/tags/").json()
    tags = {t["name"]: t for t in body["results"]}
    assert set(tags) == {"v1", "v2"}
    assert tags["v1"]["digest"] == pushed["app"].digest
    assert tags["v1"]["reference"].endswith(f"/acme/api@{pushed['app'].digest}")
    assert tags["v1"]["pushed_by"].startswith("developer")
    assert [r["digest"] for r in tags["v1"]["referrers"]] == [pushed["provenance"].digest]
    assert tags["v1"]["referrers"][0]["artifact_type"] == "application/vnd.paas.provenance.v1+json"
    assert tags["v2"]["referrers"] == []


@pytest.mark.parametrize("persona,expected", [("developer", 204), ("owner", 204), ("viewer", 403),
                                              ("approver", 403), ("outsider", 404), ("operator", 403)])
def test_delete_tag(personas, login, pushed, persona, expected):
    repository = Repository.objects.get(name="acme/api")
    response = login(personas[persona]).delete(f"/api/v1/registry/repositories/{repository.pk}/tags/v2/")
    assert response.status_code == expected
    assert Tag.objects.filter(name="v2").exists() is (expected != 204)
    if expected == 204:
        assert AuditEvent.objects.filter(action="registry.tag.delete", outcome="success").count() == 1


def test_delete_tag_with_a_read_token_and_of_the_platform(personas, tenant, pushed):
    _, read = make_token(personas["developer"], tenant, ApiToken.Scope.READ)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {read}")
    repository = Repository.objects.get(name="acme/api")
    assert client.delete(f"/api/v1/registry/repositories/{repository.pk}/tags/v1/").status_code == 403
    platform = Repository.objects.get(name="platform/jre")
    _, write = make_token(personas["owner"], tenant, ApiToken.Scope.WRITE)
    owner = Client(HTTP_AUTHORIZATION=f"Bearer {write}")
    assert owner.delete(f"/api/v1/registry/repositories/{platform.pk}/tags/17/").status_code == 403
    assert owner.delete(f"/api/v1/registry/repositories/{repository.pk}/tags/nope/").status_code == 404


# --- external registries ---------------------------------------------------------------------

HARBOR = {"tenant": "acme", "name": "harbor", "url": "https://Harbor.example.com:443/", "username": "robot$ci",
          "password": "s3cret-Pa55", "insecure": False, "description": "Team Harbor"}


def test_owner_adds_a_registry_and_the_password_stays_secret(personas, login, tenant):
    client = login(personas["owner"])
    response = client.post("/api/v1/registries/", HARBOR, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["host"] == "harbor.example.com" and body["url"] == "https://harbor.example.com:443"
    assert body["has_password"] is True and "password" not in body and "s3cret" not in response.content.decode()
    stored = ExternalRegistry.objects.get()
    assert b"s3cret" not in bytes(stored.password_encrypted)
    assert credentials_for(tenant, "harbor.example.com") == ("robot$ci", "s3cret-Pa55")
    assert credentials_for(tenant, "harbor.example.com:443") == ("robot$ci", "s3cret-Pa55")
    assert credentials_for(None, "harbor.example.com") is None
    event = AuditEvent.objects.get(action="registry.external.create")
    assert "s3cret" not in str(event.changes) and event.changes["after"]["login_stored"] is True

    changed = client.patch(f"/api/v1/registries/{stored.pk}/", {"password": "n3w-one", "insecure": True},
                           content_type="application/json")
    assert changed.status_code == 200 and changed.json()["insecure"] is True
    update = AuditEvent.objects.get(action="registry.external.update")
    assert update.changes["after"] == {"insecure": True, "login_changed": True}
    assert "n3w-one" not in str(update.changes)
    assert credentials_for(tenant, "harbor.example.com") == ("robot$ci", "n3w-one")
    same = client.patch(f"/api/v1/registries/{stored.pk}/", {"password": "n3w-one"}, content_type="application/json")
    assert same.status_code == 200
    assert AuditEvent.objects.filter(action="registry.external.update").count() == 1  # nothing changed
    assert client.delete(f"/api/v1/registries/{stored.pk}/").status_code == 204
    assert not ExternalRegistry.objects.exists()


@pytest.mark.parametrize("persona,expected", [("owner", 201), ("admin", 201), ("developer", 403), ("viewer", 403),
                                              ("outsider", 400), ("operator", 403)])
def test_who_adds_tenant_registries(personas, login, tenant, persona, expected):
    response = login(personas[persona]).post("/api/v1/registries/", HARBOR, content_type="application/json")
    assert response.status_code == expected, response.content
    if persona == "outsider":
        assert "tenant" in response.json()["error"]["fields"]


def test_platform_wide_registries(personas, login, tenant):
    body = {**HARBOR, "tenant": None, "name": "mirror", "url": "registry.example.net"}
    assert login(personas["owner"]).post("/api/v1/registries/", body, content_type="application/json").status_code == 403
    operator = personas["operator"]
    operator.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="registry", codename__in=["add_externalregistry", "change_externalregistry"]))
    assert login(operator).post("/api/v1/registries/", body, content_type="application/json").status_code == 201
    # Everyone signed in sees platform-wide entries (to pick them), never a password.
    listed = login(personas["outsider"]).get("/api/v1/registries/").json()["results"]
    assert [(r["tenant"], r["name"]) for r in listed] == [(None, "mirror")]
    assert credentials_for(tenant, "registry.example.net") == ("robot$ci", "s3cret-Pa55")
    # A tenant's own entry for the same host wins over the platform's.
    own = {**HARBOR, "url": "https://registry.example.net", "username": "acme-robot"}
    assert login(personas["owner"]).post("/api/v1/registries/", own, content_type="application/json").status_code == 201
    assert credentials_for(tenant, "registry.example.net")[0] == "acme-robot"
    assert registry_for(tenant, "registry.example.net").tenant == tenant
    mirror = ExternalRegistry.objects.get(name="mirror")
    assert login(personas["owner"]).delete(f"/api/v1/registries/{mirror.pk}/").status_code == 403


@pytest.mark.parametrize("change,field", [
    ({"url": "ftp://x.example.com"}, "url"), ({"url": "https://u:p@x.example.com"}, "url"),
    ({"url": "https://x.example.com/path"}, "url"), ({"url": "https://x.example.com:99999"}, "url"),
    ({"name": "Not A Name"}, "name"), ({"insecure": "true"}, "insecure"), ({"password": 5}, "password"),
    ({"tenant": "globex"}, "tenant"), ({"name": "x" * 41}, "name"),
])
def test_bad_input_names_the_field(personas, login, tenant, other_tenant, change, field):
    response = login(personas["owner"]).post("/api/v1/registries/", {**HARBOR, **change},
                                             content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_duplicate_name_conflicts(personas, login, tenant):
    client = login(personas["owner"])
    assert client.post("/api/v1/registries/", HARBOR, content_type="application/json").status_code == 201
    assert client.post("/api/v1/registries/", HARBOR, content_type="application/json").status_code == 409


def test_docker_hub_aliases(personas, login, tenant):
    client = login(personas["owner"])
    body = {**HARBOR, "name": "hub", "url": "https://registry-1.docker.io"}
    assert client.post("/api/v1/registries/", body, content_type="application/json").status_code == 201
    assert credentials_for(tenant, "docker.io") == ("robot$ci", "s3cret-Pa55")
    assert credentials_for(tenant, "127.0.0.1:8000") is None  # the built-in registry: issue_token instead
