"""The API permission matrix: every persona against every endpoint action on acme.

EXPECTED is written out by hand so it reads as a specification. It follows
tenants/roles.py ROLE_PERMISSIONS, and `test_table_follows_role_permissions`
checks it against that matrix so the two cannot drift apart:
- owner and admin hold every management permission;
- developer, approver, viewer and auditor hold view_tenant and use_api_tokens;
- the operator holds platform-wide view_tenant, add_tenant and set_quota, nothing more:
  only operators set quotas and decide quota requests; owners and admins ask (request_quota);
- the outsider owns globex only, so acme does not exist for them (404);
- the revoked token belongs to the developer: its owner may revoke it, and so may
  those with manage_api_tokens; to anyone else it is invisible (404).
"""
import pytest
from django.core.cache import cache
from django.test import Client

from paas.audit.models import AuditEvent
from tenants.roles import ROLE_PERMISSIONS

from .factories import UserFactory, add_member, make_token
from .registry.rows import registry_rows
from .releases.rows import release_rows

pytestmark = pytest.mark.django_db

PERSONAS = ["owner", "admin", "developer", "approver", "viewer", "auditor", "operator", "outsider"]

# name: (method, path under /api/v1/, JSON body)
ACTIONS = {
    "list tenants": ("get", "tenants/", None),
    "retrieve acme": ("get", "tenants/acme/", None),
    "patch acme": ("patch", "tenants/acme/", {"description": "changed"}),
    "create tenant": ("post", "tenants/", {"slug": "initech", "name": "Initech"}),
    "list environments": ("get", "tenants/acme/environments/", None),
    "create environment": ("post", "tenants/acme/environments/", {"slug": "qa", "name": "QA", "kind": "test"}),
    "patch environment": ("patch", "tenants/acme/environments/test/", {"name": "Testing"}),
    "delete environment": ("delete", "tenants/acme/environments/dev/", None),
    "list members": ("get", "tenants/acme/members/", None),
    "add member": ("post", "tenants/acme/members/", {"user": "newbie", "role": "viewer"}),
    "patch member": ("patch", "tenants/acme/members/extra/", {"role": "auditor"}),
    "remove member": ("delete", "tenants/acme/members/extra/", None),
    "list quotas": ("get", "tenants/acme/quotas/", None),
    "patch quota": ("patch", "tenants/acme/quotas/dev/", {"pods": 60}),
    "put quota": ("put", "tenants/acme/quotas/dev/", {"cpu_millicores": 8000, "memory_mib": 8192,
                                                       "ephemeral_storage_mib": 20480,
                                                       "exclusive_cpuset_cores": 0, "pods": 60}),
    "list quota requests": ("get", "tenants/acme/quota-requests/", None),
    "request quota": ("post", "tenants/acme/quota-requests/", {"environment": "dev", "pods": 60, "reason": "x"}),
    "cancel quota request": ("post", "tenants/acme/quota-requests/{quota_request}/cancel/", None),
    "list all quota requests": ("get", "quota-requests/", None),
    "approve quota request": ("post", "quota-requests/{quota_request}/approve/", {"comment": "ok"}),
    "reject quota request": ("post", "quota-requests/{quota_request}/reject/", {"comment": "no"}),
    "list tokens": ("get", "tenants/acme/tokens/", None),
    "create token": ("post", "tenants/acme/tokens/", {"name": "ci"}),
    "revoke token": ("delete", "tenants/acme/tokens/{token}/", None),
    "me": ("get", "me/", None),
    "list dockerfiles": ("get", "applications/{app}/dockerfiles/", None),
    "retrieve dockerfile": ("get", "applications/{app}/dockerfiles/1/", None),
    "diff dockerfiles": ("get", "applications/{app}/dockerfiles/diff/?from=1&to=1", None),
    "save dockerfile": ("post", "applications/{app}/dockerfiles/", {"content": "FROM platform/jre:17\nUSER 10001\n",
                                                                    "comment": "matrix"}),
    "dockerfile templates": ("get", "dockerfile-templates/", None),
    "list image repositories": ("get", "registry/repositories/", None),
    "list image tags": ("get", "registry/repositories/{repository}/tags/", None),
    "delete image tag": ("delete", "registry/repositories/{repository}/tags/v1/", None),
    "list external registries": ("get", "registries/", None),
    "patch external registry": ("patch", "registries/{external_registry}/", {"description": "changed"}),
    "list releases": ("get", "releases/", None),
    "retrieve release": ("get", "releases/{release}/", None),
    "preview release": ("post", "releases/preview/", {"application": "{release_app}", "environment": "test",
                                                      "target": 2}),
    "create release": ("post", "releases/", {"application": "{release_app}", "environment": "test", "target": 2}),
    "start release": ("post", "releases/{release}/start/", None),
    "abort release": ("post", "releases/{release}/abort/", {"reason": "matrix"}),
    "release events": ("get", "releases/{release}/events/?after=0", None),
    "release pods": ("get", "releases/{release}/pods/", None),
    "list traffic providers": ("get", "applications/{release_app}/instances/dev/traffic-providers/", None),
    "create traffic provider": ("post", "applications/{release_app}/instances/dev/traffic-providers/",
                                {"kind": "dns", "name": "dns", "url": "http://127.0.0.1:9/dns/v1"}),
    "delete traffic provider": ("delete", "applications/{release_app}/instances/dev/traffic-providers/{provider}/",
                                None),
}

EXPECTED = {
    #                      owner admin  dev  appr  view  audit  oper  outs
    "list tenants":       (200,  200,  200,  200,  200,  200,  200,  200),
    "retrieve acme":      (200,  200,  200,  200,  200,  200,  200,  404),
    "patch acme":         (200,  200,  403,  403,  403,  403,  403,  404),
    "create tenant":      (403,  403,  403,  403,  403,  403,  201,  403),
    "list environments":  (200,  200,  200,  200,  200,  200,  200,  404),
    "create environment": (201,  201,  403,  403,  403,  403,  403,  404),
    "patch environment":  (200,  200,  403,  403,  403,  403,  403,  404),
    "delete environment": (204,  204,  403,  403,  403,  403,  403,  404),
    "list members":       (200,  200,  200,  200,  200,  200,  200,  404),
    "add member":         (202,  202,  403,  403,  403,  403,  403,  404),
    "patch member":       (200,  200,  403,  403,  403,  403,  403,  404),
    "remove member":      (204,  204,  403,  403,  403,  403,  403,  404),
    "list quotas":        (200,  200,  200,  200,  200,  200,  200,  404),
    "patch quota":        (403,  403,  403,  403,  403,  403,  200,  404),
    "put quota":          (403,  403,  403,  403,  403,  403,  200,  404),
    "list quota requests": (200, 200,  200,  200,  200,  200,  200,  404),
    "request quota":      (201,  201,  403,  403,  403,  403,  403,  404),
    "cancel quota request": (200, 200, 403,  403,  403,  403,  403,  404),
    "list all quota requests": (200, 200, 200, 200, 200,  200,  200,  200),
    "approve quota request": (403, 403, 403,  403,  403,  403,  200,  404),
    "reject quota request": (403, 403, 403,  403,  403,  403,  200,  404),
    "list tokens":        (200,  200,  200,  200,  200,  200,  200,  404),
    "create token":       (201,  201,  201,  201,  201,  201,  403,  404),
    "revoke token":       (204,  204,  204,  404,  404,  404,  404,  404),
    "me":                 (200,  200,  200,  200,  200,  200,  200,  200),
    "list dockerfiles":   (200,  200,  200,  200,  200,  200,  200,  404),
    "retrieve dockerfile": (200, 200,  200,  200,  200,  200,  200,  404),
    "diff dockerfiles":   (200,  200,  200,  200,  200,  200,  200,  404),
    "save dockerfile":    (201,  201,  201,  403,  403,  403,  403,  404),
    "dockerfile templates": (200, 200, 200,  200,  200,  200,  200,  200),
    "list image repositories": (200, 200, 200, 200,  200,  200,  200,  200),
    "list image tags":    (200,  200,  200,  200,  200,  200,  200,  404),
    "delete image tag":   (204,  204,  204,  403,  403,  403,  403,  404),
    "list external registries": (200, 200, 200, 200, 200,  200,  200,  200),
    "patch external registry": (200, 200, 403, 403,  403,  403,  403,  404),
    "list releases":      (200,  200,  200,  200,  200,  200,  200,  200),
    "retrieve release":   (200,  200,  200,  200,  200,  200,  200,  404),
    "preview release":    (200,  200,  200,  200,  200,  200,  200,  404),
    "create release":     (201,  201,  201,  403,  403,  403,  403,  404),
    "start release":      (200,  200,  200,  403,  403,  403,  403,  404),
    "abort release":      (200,  200,  200,  403,  403,  403,  403,  404),
    "release events":     (200,  200,  200,  200,  200,  200,  200,  404),
    "release pods":       (200,  200,  200,  200,  200,  200,  200,  404),
    "list traffic providers": (200, 200, 200, 200, 200,  200,  200,  404),
    "create traffic provider": (201, 201, 201, 403, 403,  403,  403,  404),
    "delete traffic provider": (204, 204, 204, 403, 403,  403,  403,  404),
}

# The tenant permission each action needs (reads need view_tenant).
ACTION_PERMISSION = {
    "retrieve acme": "view_tenant", "list environments": "view_tenant", "list members": "view_tenant",
    "list quotas": "view_tenant", "list tokens": "view_tenant",
    "patch acme": "change_tenant",
    "create environment": "manage_environments", "patch environment": "manage_environments",
    "delete environment": "manage_environments",
    "add member": "manage_members", "patch member": "manage_members", "remove member": "manage_members",
    "list quota requests": "view_tenant",
    "request quota": "request_quota", "cancel quota request": "request_quota",
    "create token": "use_api_tokens",
    "list dockerfiles": "view_tenant", "retrieve dockerfile": "view_tenant", "diff dockerfiles": "view_tenant",
    "save dockerfile": "manage_applications",
    "list image tags": "view_tenant", "delete image tag": "manage_applications",
    "patch external registry": "change_tenant",
    "retrieve release": "view_tenant", "preview release": "view_tenant", "release events": "view_tenant",
    "release pods": "view_tenant", "list traffic providers": "view_tenant",
    "create release": "release_application", "start release": "release_application",
    "abort release": "release_application", "create traffic provider": "release_application",
    "delete traffic provider": "release_application",
}

# Platform permissions: no tenant role holds them, whatever the tenant says (403 for every role).
PLATFORM_ACTIONS = {"patch quota": "tenants.set_quota", "put quota": "tenants.set_quota",
                    "approve quota request": "tenants.set_quota", "reject quota request": "tenants.set_quota"}

# POSTs that only read (a preview writes nothing, so it leaves no audit row).
POST_READS = {"preview release"}

CASES = [(persona, name) for name in ACTIONS for persona in PERSONAS]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(personas, tenant):
    """acme with its personas, one extra viewer to change/remove, an account to add,
    a token of the developer's to revoke and a pending quota request (test) to decide."""
    from paas.actors import Actor
    from tenants.quota_requests import quota_request_create

    add_member(tenant, UserFactory(username="extra"), "viewer")
    UserFactory(username="newbie")
    token, _ = make_token(personas["developer"], tenant, name="developer-ci")
    quota_request = quota_request_create(actor=Actor.for_user(personas["owner"]),
                                         environment=tenant.environments.get(slug="test"), reason="load", pods=99)
    from applications.dockerfiles import services as dockerfile_services
    from applications.models import Application

    dockerfile_services.base_images_ensure(actor=Actor.for_system("tests"))
    application = Application.objects.create(tenant=tenant, name="payments-api", stack="java")
    dockerfile_services.dockerfile_save(actor=Actor.for_system("tests"), application=application,
                                        content="FROM platform/jre:17\nUSER 10002\n")
    repository, external = registry_rows(tenant, personas["owner"])
    releases = release_rows(tenant, None)
    return {"token": token.pk, "quota_request": quota_request.pk, "app": application.pk,
            "repository": repository.pk, "external_registry": external.pk, "release": releases["release"].pk,
            "release_app": releases["release_app"].pk, "provider": releases["provider"].pk}


def send(client, name, world):
    method, path, body = ACTIONS[name]
    url = "/api/v1/" + path.format(**world)
    if body is not None:  # ids of the world's rows in bodies: "{release_app}" -> its id
        body = {k: world[v[1:-1]] if isinstance(v, str) and v.startswith("{") else v for k, v in body.items()}
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, content_type="application/json")


def new_events(mark):
    return list(AuditEvent.objects.filter(id__gt=mark).values_list("outcome", flat=True))


def test_table_covers_every_action_and_persona():
    assert set(EXPECTED) == set(ACTIONS)
    assert all(len(row) == len(PERSONAS) for row in EXPECTED.values())


def test_table_follows_role_permissions():
    for role, granted in ROLE_PERMISSIONS.items():
        column = PERSONAS.index(role)
        for name, codename in ACTION_PERMISSION.items():
            allowed = 200 <= EXPECTED[name][column] < 300
            assert allowed == (codename in granted), (role, name)
            if not allowed:
                assert EXPECTED[name][column] == 403, (role, name)
        for name in PLATFORM_ACTIONS:
            assert EXPECTED[name][column] == 403, (role, name)
        may_revoke = role == "developer" or "manage_api_tokens" in granted
        assert EXPECTED["revoke token"][column] == (204 if may_revoke else 404), role


@pytest.mark.parametrize("persona, name", CASES, ids=[f"{p}-{n.replace(' ', '_')}" for p, n in CASES])
def test_matrix(personas, world, login, persona, name):
    expected = EXPECTED[name][PERSONAS.index(persona)]
    mark = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = send(login(personas[persona]), name, world)
    assert response.status_code == expected, response.content

    outcomes = new_events(mark)
    if expected == 403:
        assert outcomes == ["denied"]  # every refusal leaves exactly one trace
        assert response.json()["error"]["message"]
    elif expected == 404:
        # A read leaves no trace; a refused write does (paas.audit.refusals), though the
        # response is the same 404 as for a missing object.
        assert outcomes == ([] if ACTIONS[name][0] == "get" else ["denied"])
    elif ACTIONS[name][0] != "get" and name not in POST_READS:
        assert outcomes and set(outcomes) == {"success"}

    if persona == "outsider":
        content = response.content.decode()
        assert "acme" not in content.lower() and "Acme Payments" not in content
        if name == "list tenants":
            assert [t["slug"] for t in response.json()["results"]] == ["globex"]
        if name == "me":
            assert [m["tenant"] for m in response.json()["memberships"]] == ["globex"]


@pytest.mark.parametrize("name", list(ACTIONS))
def test_anonymous_gets_401_everywhere(world, name):
    mark = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = send(Client(), name, world)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert new_events(mark) == []
