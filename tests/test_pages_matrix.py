"""Every portal page and form against every persona: the exact status the role
matrix calls for, and nothing of acme in what an outsider gets back."""
import pytest
from django.test import Client

from applications.dockerfiles import services as dockerfile_services
from paas.actors import Actor
from tenants.models import Membership
from tenants.quota_requests import quota_request_create

from .factories import PASSWORD, UserFactory, make_token
from .registry.rows import registry_rows

pytestmark = pytest.mark.django_db

PERSONAS = ["owner", "admin", "developer", "approver", "viewer", "auditor", "outsider", "operator", "anonymous"]
MEMBERS = ["owner", "admin", "developer", "approver", "viewer", "auditor"]
LOGIN = 302  # anonymous: redirected to the login page


def table(default: int, **overrides: int) -> dict[str, int]:
    expected = {p: default for p in PERSONAS}
    expected.update(overrides)
    return expected


# Reading acme: members and operators (global view_tenant); outsider 404.
VIEW = table(200, outsider=404, anonymous=LOGIN)
# A permission only owner and admin hold (manage_* / change_tenant); GET shows the form (200),
# a successful POST redirects (302); everyone else who can see the tenant gets 403.
MANAGE_GET = table(403, owner=200, admin=200, outsider=404, anonymous=LOGIN)
MANAGE_POST = table(403, owner=302, admin=302, outsider=404, anonymous=LOGIN)
# Platform permissions (tenants.set_quota: set quotas, decide quota requests): operators only,
# whatever the role in the tenant; an outsider still cannot see acme's pages (404).
OPERATOR_GET = table(403, operator=200, outsider=404, anonymous=LOGIN)
OPERATOR_POST = table(403, operator=302, outsider=404, anonymous=LOGIN)
# The operators' queue is not a tenant's page: everyone else is refused alike.
PLATFORM_GET = table(403, operator=200, anonymous=LOGIN)
PLATFORM_POST = table(403, operator=302, anonymous=LOGIN)
# use_api_tokens: every member role, not operators.
TOKEN_USE = table(200, operator=403, outsider=404, anonymous=LOGIN)
# manage_applications (owner, admin, developer): Dockerfile forms and saves.
DEV_GET = table(403, owner=200, admin=200, developer=200, outsider=404, anonymous=LOGIN)
DEV_POST = table(403, owner=302, admin=302, developer=302, outsider=404, anonymous=LOGIN)
DOCKERFILE = ('FROM platform/jre:17\nCOPY app.jar /app/app.jar\nUSER 10001\n'
              'HEALTHCHECK CMD ["curl", "-f", "http://127.0.0.1:8080/"]\nENTRYPOINT ["java", "-jar", "/app/app.jar"]\n')
GENERATE = {"stack": "java", "base_image": "platform/jre:17", "artifact": "svc.jar", "ports": "8080", "user": "10001",
            "health_kind": "http", "health_path": "/", "health_interval": "30", "jvm_options": "", "action": "save"}

# manage_applications: owner, admin and developer; the outsider owns globex, so the create form opens
# for them too (listing globex only), while acme's applications stay 404.
APPS_GET = table(403, owner=200, admin=200, developer=200, outsider=404, anonymous=LOGIN)
APPS_POST = table(403, owner=302, admin=302, developer=302, outsider=404, anonymous=LOGIN)

QUOTA = {"cpu_millicores": "6", "memory_mib": "12", "ephemeral_storage_mib": "10",
         "exclusive_cpuset_cores": "0", "pods": "40"}

# name: (method, url, data, expected)
PAGES = {
    "dashboard": ("get", "/", None, table(200, anonymous=LOGIN)),
    "tenant-list": ("get", "/tenants/", None, table(200, anonymous=LOGIN)),
    "coming-soon": ("get", "/coming-soon/clusters/", None, table(200, anonymous=LOGIN)),
    "tenant-create-form": ("get", "/tenants/-/new/", None, table(403, operator=200, anonymous=LOGIN)),
    "tenant-detail": ("get", "/tenants/acme/", None, VIEW),
    "tenant-edit-form": ("get", "/tenants/acme/edit/", None, MANAGE_GET),
    "env-create-form": ("get", "/tenants/acme/environments/new/", None, MANAGE_GET),
    "env-edit-form": ("get", "/tenants/acme/environments/dev/edit/", None, MANAGE_GET),
    "members": ("get", "/tenants/acme/members/", None, VIEW),
    "quotas": ("get", "/tenants/acme/quotas/", None, VIEW),
    "quota-edit-form": ("get", "/tenants/acme/quotas/dev/edit/", None, OPERATOR_GET),
    "quota-request-form": ("get", "/tenants/acme/quotas/dev/request/", None, MANAGE_GET),
    "quota-requests": ("get", "/tenants/-/quota-requests/", None, PLATFORM_GET),
    "tokens": ("get", "/tenants/acme/tokens/", None, VIEW),
    "token-create-form": ("get", "/tenants/acme/tokens/new/", None, TOKEN_USE),
    "set-tenant": ("post", "/set-tenant/", {"tenant": "acme"}, table(302, outsider=404)),
    "tenant-create": ("post", "/tenants/-/new/", {"name": "Initech", "slug": "initech"},
                      table(403, operator=302, anonymous=LOGIN)),
    "tenant-edit": ("post", "/tenants/acme/edit/", {"name": "Acme 2"}, MANAGE_POST),
    "tenant-archive": ("post", "/tenants/acme/archive/", {}, MANAGE_POST),
    "env-create": ("post", "/tenants/acme/environments/new/", {"name": "QA", "slug": "qa", "kind": "test"},
                   MANAGE_POST),
    "env-edit": ("post", "/tenants/acme/environments/dev/edit/", {"name": "Dev 2"}, MANAGE_POST),
    "env-delete": ("post", "/tenants/acme/environments/dev/delete/", {}, MANAGE_POST),
    "member-add": ("post", "/tenants/acme/members/invite/", {"user": "newcomer", "role": "viewer"}, MANAGE_POST),
    "member-role": ("post", "/tenants/acme/members/{viewer_membership}/role/", {"role": "auditor"}, MANAGE_POST),
    "member-remove": ("post", "/tenants/acme/members/{viewer_membership}/remove/", {}, MANAGE_POST),
    "quota-edit": ("post", "/tenants/acme/quotas/dev/edit/", QUOTA, OPERATOR_POST),
    "quota-request": ("post", "/tenants/acme/quotas/dev/request/", {**QUOTA, "reason": "more"}, MANAGE_POST),
    "quota-request-cancel": ("post", "/tenants/acme/quota-requests/{quota_request}/cancel/", {}, MANAGE_POST),
    "quota-request-approve": ("post", "/tenants/-/quota-requests/{quota_request}/approve/", {}, PLATFORM_POST),
    "quota-request-reject": ("post", "/tenants/-/quota-requests/{quota_request}/reject/", {"comment": "no"},
                             PLATFORM_POST),
    "token-create": ("post", "/tenants/acme/tokens/new/", {"name": "ci", "scope": "read"}, TOKEN_USE),
    # The developer's token: its owner and token managers may revoke it; to anyone
    # else it is invisible (404), like any object they may not see.
    "token-revoke": ("post", "/tenants/acme/tokens/{dev_token}/revoke/", {},
                     table(404, owner=302, admin=302, developer=302, anonymous=LOGIN)),
    # Dockerfiles of an application (applications/dockerfiles/urls.py)
    "dockerfile-editor": ("get", "/applications/{app}/dockerfile/", None, VIEW),
    "dockerfile-history": ("get", "/applications/{app}/dockerfile/history/", None, VIEW),
    "dockerfile-version": ("get", "/applications/{app}/dockerfile/versions/1/", None, VIEW),
    "dockerfile-diff": ("get", "/applications/{app}/dockerfile/diff/?from=1&to=1", None, VIEW),
    "dockerfile-generate-form": ("get", "/applications/{app}/dockerfile/generate/?stack=go", None, DEV_GET),
    "dockerfile-save": ("post", "/applications/{app}/dockerfile/", {"content": DOCKERFILE + "EXPOSE 8080\n"},
                        DEV_POST),
    "dockerfile-lint": ("post", "/applications/{app}/dockerfile/lint/", {"content": DOCKERFILE}, DEV_GET),
    "dockerfile-generate": ("post", "/applications/{app}/dockerfile/generate/", GENERATE, DEV_POST),
    # applications
    "app-list": ("get", "/applications/", None, table(200, anonymous=LOGIN)),
    "app-create-form": ("get", "/applications/new/", None, {**APPS_GET, "outsider": 200}),
    "app-detail": ("get", "/applications/{app}/", None, VIEW),
    "app-edit-form": ("get", "/applications/{app}/edit/", None, APPS_GET),
    "app-component-form": ("get", "/applications/{app}/components/new/", None, APPS_GET),
    "app-component-edit-form": ("get", "/applications/{app}/components/api/edit/", None, APPS_GET),
    "app-instance": ("get", "/applications/{app}/instances/test/", None, VIEW),
    "app-instance-form": ("get", "/applications/{app}/instances/test/edit/", None, APPS_GET),
    "app-revision-form": ("get", "/applications/{app}/revisions/new/", None, APPS_GET),
    "app-revision": ("get", "/applications/{app}/revisions/{revision}/", None, VIEW),
    "app-diff": ("get", "/applications/{app}/revisions/diff/", None, VIEW),
    "app-edit": ("post", "/applications/{app}/edit/", {"description": "changed", "stack": "go"}, APPS_POST),
    "app-component-delete": ("post", "/applications/{app}/components/api/delete/", {}, APPS_POST),
    "app-dependency-add": ("post", "/applications/{app}/dependencies/add/", {"depends_on": "{other}"}, APPS_POST),
    "app-promote": ("post", "/applications/{app}/revisions/{revision}/promote/", {"environment": "pre"}, APPS_POST),
    "app-apply": ("post", "/applications/{app}/instances/test/apply/", {"revision": "{revision}"}, APPS_POST),
    "app-delete": ("post", "/applications/{app}/delete/", {}, APPS_POST),
    # The built-in image registry: every signed-in person lists what they may see; acme's
    # repository is acme's (operators read every tenant); deleting a tag needs manage_applications.
    # Releases: whoever sees acme watches them; release_application (owner, admin, developer in
    # dev/test) opens the new-release form and acts (aborting the planned release: 302).
    "release-list": ("get", "/releases/", None, table(200, anonymous=LOGIN)),
    "release-detail": ("get", "/releases/{release}/", None, VIEW),
    "release-events": ("get", "/releases/{release}/events.json?after=0", None, VIEW),
    "release-new-form": ("get", "/releases/new/?application={app}&environment=test", None, DEV_GET),
    "release-abort": ("post", "/releases/{release}/abort/", {}, DEV_POST),
    "registry-list": ("get", "/registry/", None, table(200, anonymous=LOGIN)),
    "registry-detail": ("get", "/registry/acme/api/", None, VIEW),
    "registry-tag-delete": ("post", "/registry/acme/api/-/tags/v1/delete/", {},
                            table(403, owner=302, admin=302, developer=302, outsider=404, anonymous=LOGIN)),
}

CASES = [(page, persona) for page in PAGES for persona in PERSONAS]


@pytest.fixture
def world(personas, tenant):
    UserFactory(username="newcomer")
    dev_token, dev_plaintext = make_token(personas["developer"], tenant, name="dev-ci")
    quota_request = quota_request_create(actor=Actor.for_user(personas["owner"]),
                                         environment=tenant.environments.get(slug="test"), reason="load", pods=99)
    app, other, revision = _application(tenant)
    release = _release(app, revision)
    dockerfile_services.base_images_ensure(actor=Actor.for_system("tests"))
    dockerfile_services.dockerfile_save(actor=Actor.for_system("tests"), application=app, content=DOCKERFILE)
    registry_rows(tenant, personas["owner"])
    return {
        "app": app.pk, "other": other.pk, "revision": revision.pk, "release": release.pk,
        "quota_request": quota_request.pk,
        "viewer_membership": Membership.objects.get(tenant=tenant, user=personas["viewer"]).pk,
        "dev_token": dev_token.pk,
        "secrets": [dev_plaintext, dev_token.prefix],
    }


def _application(tenant):
    """An application with a component, an instance and a revision in acme/test (rows written
    directly: pages only read them, and writes that need clusters answer with a message)."""
    from applications import services
    from applications.models import AppInstance, AppRevision

    system = Actor.for_system("tests")
    app = services.application_create(actor=system, tenant=tenant, name="payments-api")
    other = services.application_create(actor=system, tenant=tenant, name="accounts-api")
    services.component_create(actor=system, application=app, data={"name": "api", "image": "acme/payments-api:1"})
    test = tenant.environments.get(slug="test")
    AppInstance.objects.create(application=app, environment=test)
    spec = {"components": [{"name": "api", "image": "127.0.0.1:8000/acme/payments-api@sha256:" + "a" * 64,
                            "replicas": {"dev": 1, "test": 1, "pre": 1, "prod": 1}}]}
    revision = AppRevision.objects.create(application=app, environment=test, number=1, spec=spec,
                                          spec_hash="0" * 64)
    return app, other, revision


def _release(app, revision):
    """A planned release of acme/test (r1 -> r2), rows written directly."""
    from applications.models import AppRevision
    from releases.models import Release

    instance = app.instances.get(environment=revision.environment)
    instance.baseline = revision
    instance.save(update_fields=["baseline"])
    target = AppRevision.objects.create(application=app, environment=revision.environment, number=2,
                                        spec=revision.spec, spec_hash="2" * 64)
    return Release.objects.create(tenant=app.tenant, environment=revision.environment, instance=instance,
                                  baseline=revision, target=target, number=1)


def client_for(persona: str, personas) -> Client:
    client = Client()
    if persona != "anonymous":
        assert client.login(username=personas[persona].username, password=PASSWORD)
    return client


@pytest.mark.parametrize("page, persona", CASES, ids=[f"{page}-{persona}" for page, persona in CASES])
def test_page_status_matches_the_role_matrix(page, persona, personas, world):
    method, url, data, expected = PAGES[page]
    url = url.format(**world)
    data = {key: value.format(**world) if isinstance(value, str) else value for key, value in (data or {}).items()}
    response = getattr(client_for(persona, personas), method)(url, data)
    assert response.status_code == expected[persona], response.content.decode()[:500]
    if expected[persona] == LOGIN and persona == "anonymous":
        assert response["Location"].startswith("/accounts/login/?next=")
    if persona == "outsider":
        # The URL the outsider typed may be echoed back (e.g. the language form's
        # "next"); nothing else about acme may appear.
        body = response.content.decode().replace(url, "")
        assert "acme" not in body.lower()
        for secret in world["secrets"]:
            assert secret not in body


def test_every_page_is_in_the_matrix():
    from tenants import urls

    tenant_routes = {p.name for p in urls.urlpatterns}
    covered = {"list", "create", "detail", "edit", "archive", "environment-create", "environment-edit",
               "environment-delete", "members", "member-add", "member-role", "member-remove", "quotas",
               "quota-edit", "tokens", "token-create", "token-revoke", "quota-request", "quota-request-cancel",
               "quota-requests", "quota-request-approve", "quota-request-reject"}
    # reactivate needs an archived tenant; covered in test_archived_tenant_is_read_only.
    assert tenant_routes - covered == {"reactivate"}


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_archived_tenant_is_read_only(persona, personas, tenant, login):
    from paas.actors import Actor
    from tenants import services

    services.tenant_update(actor=Actor.for_system("tests"), tenant=tenant, is_active=False)
    client = login(personas[persona])
    assert client.get("/tenants/acme/").status_code == 200
    assert client.get("/tenants/acme/environments/new/").status_code == 403
    assert login(personas["developer"]).post("/tenants/acme/reactivate/").status_code == 403
    # Whoever may change the tenant may bring it back.
    assert client.post("/tenants/acme/reactivate/").status_code == 302
    tenant.refresh_from_db()
    assert tenant.is_active


def test_denied_post_is_recorded_and_changes_nothing(personas, tenant, login):
    from paas.audit.models import AuditEvent

    response = login(personas["viewer"]).post("/tenants/acme/environments/new/",
                                              {"name": "QA", "slug": "qa", "kind": "test"})
    assert response.status_code == 403
    assert not tenant.environments.filter(slug="qa").exists()
    event = AuditEvent.objects.get(action="tenant.environment.create", outcome="denied")
    assert event.user_id == personas["viewer"].pk and event.tenant_slug == "acme"
