"""Application pages: list, detail (components, dependencies, instances with live status,
revisions with the baseline marked), forms, revision detail and diff, promote and apply buttons
only for those allowed; another tenant's application is a 404."""

import pytest

from applications import services
from applications.models import AppRevision, Component

from .conftest import SYSTEM, env

pytestmark = pytest.mark.django_db


def html(response) -> str:
    assert response.status_code == 200, response.content.decode()[:2000]
    return response.content.decode()


@pytest.fixture
def deployed(app, cells, tenant, registry):
    test = env(tenant, "test")
    revision = services.revision_create(actor=SYSTEM, application=app, environment=test, comment="first")
    instance = services.instance_apply_revision(actor=SYSTEM, instance=app.instances.get(environment=test),
                                                revision=revision)
    return {"revision": revision, "instance": instance}


def test_pages_render_for_a_viewer_without_write_buttons(personas, login, app, deployed):
    client = login(personas["viewer"])
    page = html(client.get("/applications/"))
    assert "payments-api" in page and "New application" not in page
    page = html(client.get(f"/applications/{app.pk}/"))
    assert "api" in page and 'data-testid="baseline"' in page and "Add component" not in page
    assert 'data-live-types="federation.synced' in page
    page = html(client.get(f"/applications/{app.pk}/instances/test/"))
    assert "payments-api-api" in page and 'data-testid="apply"' not in page
    page = html(client.get(deployed["revision"].get_absolute_url()))
    assert "registry.test:5000/acme/payments-api@sha256:" in page and 'data-testid="promote"' not in page
    assert "s3cret" not in page and "DB_PASSWORD" in page
    html(client.get(f"/applications/{app.pk}/revisions/diff/"))
    assert client.get(f"/applications/{app.pk}/components/new/").status_code == 403
    assert client.get(f"/applications/{app.pk}/edit/").status_code == 403


def test_developer_sees_write_buttons(personas, login, app, deployed):
    client = login(personas["developer"])
    page = html(client.get(f"/applications/{app.pk}/"))
    assert "Add component" in page and "New revision" in page
    page = html(client.get(deployed["revision"].get_absolute_url()))
    assert 'data-testid="promote"' in page  # test -> pre
    html(client.get(f"/applications/{app.pk}/components/api/edit/"))
    html(client.get(f"/applications/{app.pk}/instances/test/edit/"))
    html(client.get(f"/applications/{app.pk}/revisions/new/"))
    html(client.get("/applications/new/"))


def test_outsider_gets_404(personas, login, app):
    client = login(personas["outsider"])
    assert client.get(f"/applications/{app.pk}/").status_code == 404
    assert "payments-api" not in client.get("/applications/").content.decode()


def test_create_edit_and_component_forms(personas, login, tenant, registry):
    client = login(personas["developer"])
    response = client.post("/applications/new/", {"tenant": "acme", "name": "ledger", "stack": "go",
                                                  "labels": "tier: critical"})
    assert response.status_code == 302
    app = tenant.applications.get(name="ledger")
    assert app.labels == {"tier": "critical"}
    data = {"name": "web", "workload_kind": "deployment", "image": "acme/ledger:1", "ports": "http 8080",
            "env": "A=1\nB=two", "secret_env_set": "TOKEN=abc", "config_files": "- path: /etc/x.conf\n  content: hi\n",
            "cpu_request": "100m", "memory_limit": "128Mi", "cpuset_cores": "0", "liveness_type": "http",
            "liveness_path": "/health", "liveness_port": "http", "readiness_type": "",
            "replicas_dev": "1", "replicas_test": "1", "replicas_pre": "2", "replicas_prod": "3"}
    response = client.post(f"/applications/{app.pk}/components/new/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    component = Component.objects.get(application=app, name="web")
    assert component.ports == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert component.secret_env_names == ["TOKEN"] and component.liveness_probe["port"] == "http"
    # A bad value comes back on its field.
    response = client.post(f"/applications/{app.pk}/components/web/edit/", {**data, "cpu_limit": "10m"})
    assert response.status_code == 200 and "is below the request" in response.content.decode()
    # Removing a secret keeps the others.
    response = client.post(f"/applications/{app.pk}/components/web/edit/",
                           {**data, "secret_env_set": "", "secret_env_remove": ["TOKEN"]})
    assert response.status_code == 302
    assert Component.objects.get(pk=component.pk).secret_env_names == []


def test_placement_outside_bindings_is_shown_on_the_form(personas, login, app, cells):
    client = login(personas["developer"])
    response = client.post(f"/applications/{app.pk}/instances/dev/edit/", {"placement": "cells: [cell-a]"})
    assert response.status_code == 200 and "cell cell-a is not bound to environment acme/dev" in \
        response.content.decode()


def test_revision_diff_page_side_by_side(personas, login, app, cells, tenant, registry, deployed):
    registry.push("acme/payments-api", "2.0")
    services.component_update(actor=SYSTEM, component=app.components.get(), data={"image": "acme/payments-api:2.0"})
    second = services.revision_create(actor=SYSTEM, application=app, environment=env(tenant, "test"))
    page = html(login(personas["viewer"]).get(
        f"/applications/{app.pk}/revisions/diff/?from={deployed['revision'].pk}&to={second.pk}"))
    assert 'data-path="components[api].image"' in page and "s3cret" not in page


def test_apply_and_promote_through_the_pages(personas, login, app, cells, tenant, registry, deployed):
    client = login(personas["developer"])
    response = client.post(deployed["revision"].get_absolute_url() + "promote/", {"environment": "pre"})
    copy = AppRevision.objects.get(environment__slug="pre")
    assert response.status_code == 302 and response["Location"] == copy.get_absolute_url()
    page = html(client.get(copy.get_absolute_url()))
    assert 'data-testid="apply"' not in page  # a developer does not install into pre
    assert client.post(f"/applications/{app.pk}/instances/pre/apply/", {"revision": copy.pk}).status_code == 403
    owner = login(personas["owner"])  # the first install is direct, by an owner or admin ...
    assert 'data-testid="apply"' in html(owner.get(copy.get_absolute_url()))
    owner.post(f"/applications/{app.pk}/instances/pre/apply/", {"revision": copy.pk})
    assert app.instances.get(environment__slug="pre").baseline == copy
    assert 'data-testid="apply"' not in html(owner.get(copy.get_absolute_url()))  # ... and then releases
    response = owner.post(f"/applications/{app.pk}/instances/pre/apply/", {"revision": copy.pk}, follow=True)
    assert "use a release" in response.content.decode()
    assert login(personas["viewer"]).post(f"/applications/{app.pk}/instances/test/apply/",
                                          {"revision": deployed["revision"].pk}).status_code == 403


def test_federation_pages_and_api_refuse_instance_owned_resources(personas, login, app, deployed):
    from clusters.federation.models import FederatedResource

    workload = FederatedResource.objects.get(environment__slug="test", ftype__kind="Deployment")
    client = login(personas["developer"])
    page = html(client.get(workload.get_absolute_url()))
    assert 'data-testid="managed-by"' in page and "application acme/payments-api (test)" in page
    assert f"/federation/acme/test/{workload.pk}/edit/" not in page
    response = client.get(f"/federation/acme/test/{workload.pk}/edit/", follow=True)
    assert "change it there" in response.content.decode()
    response = client.patch(f"/api/v1/tenants/acme/federated-resources/{workload.pk}/", {"placement": {}},
                            content_type="application/json")
    assert response.status_code == 409 and "managed by application acme/payments-api" in response.json()["error"]["message"]
    assert client.delete(f"/api/v1/tenants/acme/federated-resources/{workload.pk}/").status_code == 409
    assert FederatedResource.objects.filter(pk=workload.pk, deleting=False).exists()


def test_search_finds_applications_only_for_those_who_see_them(personas, login, app):
    response = login(personas["viewer"]).get("/api/v1/search/?q=payments")
    groups = {g["kind"]: g for g in response.json()["groups"]}
    assert [hit["title"] for hit in groups["application"]["hits"]] == ["payments-api"]
    assert "payments-api" not in login(personas["outsider"]).get("/api/v1/search/?q=payments").content.decode()


def test_admin_pages_show_no_secret_values(personas, login, app, deployed):
    client = login(personas["superuser"])
    for path in ("/admin/applications/application/", f"/admin/applications/application/{app.pk}/change/",
                 "/admin/applications/component/", f"/admin/applications/component/{app.components.get().pk}/change/",
                 "/admin/applications/apprevision/",
                 f"/admin/applications/apprevision/{deployed['revision'].pk}/change/",
                 "/admin/applications/appinstance/", f"/admin/applications/appinstance/{deployed['instance'].pk}/change/",
                 "/admin/applications/applicationdependency/"):
        page = html(client.get(path))
        assert "s3cret" not in page, path
