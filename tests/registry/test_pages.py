"""The portal's registry pages, admin and search."""
import pytest
from django.contrib.auth.models import Permission

from applications.registry.models import ExternalRegistry, Tag
from paas.audit.models import AuditEvent

from .test_api import pushed  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def test_list_shows_what_the_person_may_see(personas, login, pushed):  # noqa: F811
    html = login(personas["developer"]).get("/registry/").content.decode()
    assert "acme/api" in html and "platform/jre" in html and "globex/core" not in html
    assert "skopeo login --tls-verify=false 127.0.0.1:8000 -u developer" in html
    assert "/tenants/acme/tokens/" in html
    outsider = login(personas["outsider"]).get("/registry/").content.decode()
    assert "globex/core" in outsider and "acme" not in outsider.lower()
    only_platform = login(personas["developer"]).get("/registry/?tenant=platform").content.decode()
    assert "platform/jre" in only_platform and "acme/api" not in only_platform
    only_acme = login(personas["developer"]).get("/registry/?tenant=acme").content.decode()
    assert "acme/api" in only_acme and "platform/jre" not in only_acme


def test_detail_shows_tags_digests_pushers_and_referrers(personas, login, pushed):  # noqa: F811
    response = login(personas["viewer"]).get("/registry/acme/api/")
    assert response.status_code == 200
    html = response.content.decode()
    assert pushed["app"].digest[:20] in html and "developer (token" in html
    assert "application/vnd.paas.provenance.v1+json" in html
    assert "Delete" not in html  # a viewer may not delete tags
    assert "Delete" in login(personas["developer"]).get("/registry/acme/api/").content.decode()
    assert login(personas["outsider"]).get("/registry/acme/api/").status_code == 404
    assert login(personas["developer"]).get("/registry/acme/nothing/").status_code == 404


def test_delete_a_tag(personas, login, pushed):  # noqa: F811
    response = login(personas["developer"]).post("/registry/acme/api/-/tags/v2/delete/", follow=True)
    assert response.status_code == 200
    assert "was deleted" in response.content.decode()
    assert not Tag.objects.filter(name="v2").exists()
    assert AuditEvent.objects.filter(action="registry.tag.delete").count() == 1
    assert login(personas["viewer"]).post("/registry/acme/api/-/tags/v1/delete/").status_code == 403
    assert AuditEvent.objects.filter(action="registry.tag.delete", outcome="denied").count() == 1
    assert login(personas["developer"]).post("/registry/acme/api/-/tags/nope/delete/").status_code == 404
    assert login(personas["developer"]).get("/registry/acme/api/-/tags/v1/delete/").status_code == 405


def test_search_finds_repositories(personas, login, pushed):  # noqa: F811
    groups = login(personas["developer"]).get("/api/v1/search/?q=api").json()["groups"]
    hits = {g["kind"]: g for g in groups}["image_repository"]["hits"]
    assert [h["title"] for h in hits] == ["acme/api"] and hits[0]["url"] == "/registry/acme/api/"
    groups = login(personas["outsider"]).get("/api/v1/search/?q=api").json()["groups"]
    assert "image_repository" not in {g["kind"] for g in groups}


def test_menu_entry(personas, login):
    html = login(personas["auditor"]).get("/").content.decode()
    assert 'href="/registry/"' in html


def test_admin_external_registry_password_is_write_only(personas, login, tenant):
    root = login(personas["superuser"])
    response = root.post("/admin/registry/externalregistry/add/", {
        "name": "mirror", "url": "https://mirror.example.com", "username": "robot", "password": "hunter2-secret",
        "description": "", "tenant": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    registry = ExternalRegistry.objects.get()
    assert registry.tenant is None and registry.has_password
    page = root.get(f"/admin/registry/externalregistry/{registry.pk}/change/").content.decode()
    assert "hunter2-secret" not in page
    assert AuditEvent.objects.filter(action="registry.external.create").count() == 1
    response = root.post(f"/admin/registry/externalregistry/{registry.pk}/change/", {
        "name": "mirror", "url": "https://mirror.example.com", "username": "robot", "password": "",
        "clear_password": "on", "description": "now without a password"})
    assert response.status_code == 302
    registry.refresh_from_db()
    assert not registry.has_password and registry.description == "now without a password"
    for page in ("/admin/registry/repository/", "/admin/registry/manifest/", "/admin/registry/blob/",
                 "/admin/registry/upload/"):
        assert root.get(page).status_code == 200


def test_staff_operator_without_registry_permissions_cannot_add_platform_registries(personas, login):
    operator = personas["operator"]
    operator.user_permissions.add(Permission.objects.get(codename="view_externalregistry"))
    response = login(operator).get("/admin/registry/externalregistry/add/")
    assert response.status_code == 403
