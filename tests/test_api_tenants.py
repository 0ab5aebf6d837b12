"""The tenant REST API: behaviour of each endpoint, validation messages naming the
field, conflicts, API tokens (shown once, Bearer, revoked/expired/read-only,
confined to their tenant, lockout) and exactly one audit event per write."""
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from paas import lockout
from paas.actors import Actor
from paas.audit.models import AuditEvent
from tenants.models import ApiToken, Environment, Membership, Quota, Tenant
from tenants.services import token_revoke

from .cache_down import unreachable_cache
from .factories import UserFactory, add_member, make_token

pytestmark = pytest.mark.django_db

API = "/api/v1"
ACME = f"{API}/tenants/acme"


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters and the token lockout live in the cache; keep tests independent.
    cache.clear()
    yield
    cache.clear()


def call(client, method, url, data=None):
    if data is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, data, content_type="application/json")


def bearer(plaintext: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {plaintext}"})


def audit_mark() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def events_since(mark: int) -> list[tuple[str, str]]:
    return list(AuditEvent.objects.filter(id__gt=mark).order_by("id").values_list("action", "outcome"))


def error(response) -> dict:
    body = response.json()
    assert set(body) == {"error", "request_id"}
    return body["error"]


def slugs(response, key="slug") -> list[str]:
    return [row[key] for row in response.json()["results"]]


# --- tenants ----------------------------------------------------------------

def test_tenant_list_and_retrieve(personas, login):
    owner = login(personas["owner"])
    assert slugs(owner.get(f"{API}/tenants/")) == ["acme"]
    assert sorted(slugs(login(personas["operator"]).get(f"{API}/tenants/"))) == ["acme", "globex"]
    body = owner.get(f"{ACME}/").json()
    assert body["slug"] == "acme" and body["name"] == "Acme Payments" and body["is_active"] is True


def test_operator_creates_tenant_and_becomes_owner(personas, login):
    mark = audit_mark()
    response = call(login(personas["operator"]), "post", f"{API}/tenants/", {"slug": "initech", "name": "Initech"})
    assert response.status_code == 201, response.content
    assert response.json()["slug"] == "initech"
    tenant = Tenant.objects.get(slug="initech")
    assert Membership.objects.get(tenant=tenant, user=personas["operator"]).role == "owner"
    assert set(tenant.environments.values_list("slug", flat=True)) == {"dev", "test", "pre", "prod"}
    actions = [a for a, _ in events_since(mark)]
    assert actions[0] == "tenant.create" and actions.count("tenant.create") == 1
    assert actions.count("tenant.member.add") == 1


@pytest.mark.parametrize("slug", ["Bad Slug!", "-dash", "x" * 41])
def test_create_tenant_rejects_bad_slug_naming_the_field(personas, login, slug):
    response = call(login(personas["operator"]), "post", f"{API}/tenants/", {"slug": slug, "name": "X"})
    assert response.status_code == 400
    assert "slug" in error(response)["fields"]
    assert not Tenant.objects.filter(name="X").exists()


def test_create_tenant_with_taken_slug_is_refused_naming_the_field(personas, login):
    response = call(login(personas["operator"]), "post", f"{API}/tenants/", {"slug": "acme", "name": "Again"})
    # Model validation (unique slug) answers 400 before the service's own 409 check.
    assert response.status_code in (400, 409)
    assert "slug" in error(response)["fields"]
    assert Tenant.objects.filter(slug="acme").count() == 1


def test_member_cannot_create_tenant_and_the_denial_is_audited(personas, login):
    mark = audit_mark()
    response = call(login(personas["owner"]), "post", f"{API}/tenants/", {"slug": "initech", "name": "Initech"})
    assert response.status_code == 403
    assert error(response)["message"] == "Only platform operators can create tenants."
    assert events_since(mark) == [("tenant.create", "denied")]


def test_patch_tenant_writes_one_audit_event(personas, login, tenant):
    owner = login(personas["owner"])
    mark = audit_mark()
    response = call(owner, "patch", f"{ACME}/", {"name": "Acme Pay", "description": "Payments"})
    assert response.status_code == 200 and response.json()["name"] == "Acme Pay"
    assert events_since(mark) == [("tenant.update", "success")]
    mark = audit_mark()
    assert call(owner, "patch", f"{ACME}/", {"name": "Acme Pay"}).status_code == 200
    assert events_since(mark) == []  # nothing changed, nothing recorded
    assert call(owner, "patch", f"{ACME}/", {"is_active": False}).json()["is_active"] is False
    assert events_since(mark) == [("tenant.archive", "success")]


def test_patch_tenant_validation_and_no_delete(personas, login):
    owner = login(personas["owner"])
    response = call(owner, "patch", f"{ACME}/", {"name": ""})
    assert response.status_code == 400 and "name" in error(response)["fields"]
    assert owner.delete(f"{ACME}/").status_code == 405
    assert Tenant.objects.filter(slug="acme").exists()


# --- environments -----------------------------------------------------------

def test_environment_list_filter_order_and_retrieve(personas, login):
    viewer = login(personas["viewer"])
    assert slugs(viewer.get(f"{ACME}/environments/?ordering=-slug")) == ["test", "prod", "pre", "dev"]
    assert slugs(viewer.get(f"{ACME}/environments/?kind=prod")) == ["prod"]
    assert slugs(viewer.get(f"{ACME}/environments/?protected=true")) == ["prod"]
    assert viewer.get(f"{ACME}/environments/?kind=nope").status_code == 400
    body = viewer.get(f"{ACME}/environments/prod/").json()
    assert body["kind"] == "prod" and body["protected"] is True and body["tenant"] == "acme"


def test_environment_create_update_delete_with_audit(personas, login, tenant):
    admin = login(personas["admin"])
    mark = audit_mark()
    response = call(admin, "post", f"{ACME}/environments/", {"slug": "qa", "name": "QA", "kind": "test"})
    assert response.status_code == 201 and response.json()["slug"] == "qa"
    assert Quota.objects.filter(environment__tenant=tenant, environment__slug="qa").exists()
    # the environment and the quota created with it
    assert events_since(mark) == [("tenant.environment.create", "success"), ("tenant.quota.create", "success")]

    mark = audit_mark()
    response = call(admin, "patch", f"{ACME}/environments/qa/", {"name": "Quality", "protected": True})
    assert response.status_code == 200 and response.json()["protected"] is True
    assert events_since(mark) == [("tenant.environment.update", "success")]

    call(admin, "patch", f"{ACME}/environments/qa/", {"protected": False})
    mark = audit_mark()
    assert admin.delete(f"{ACME}/environments/qa/").status_code == 204
    assert events_since(mark) == [("tenant.environment.delete", "success")]
    assert not Environment.objects.filter(tenant=tenant, slug="qa").exists()


@pytest.mark.parametrize("body, field", [
    ({"slug": "Bad_Slug", "name": "X", "kind": "dev"}, "slug"),
    ({"slug": "ok", "name": "X", "kind": "staging"}, "kind"),
    ({"slug": "ok", "kind": "dev"}, "name"),
])
def test_environment_create_validation_names_the_field(personas, login, body, field):
    response = call(login(personas["owner"]), "post", f"{ACME}/environments/", body)
    assert response.status_code == 400
    err = error(response)
    assert err["code"] == "invalid" and field in err["fields"]


def test_environment_conflicts(personas, login, tenant):
    owner = login(personas["owner"])
    response = call(owner, "post", f"{ACME}/environments/", {"slug": "dev", "name": "Dev 2", "kind": "dev"})
    assert response.status_code == 409 and "slug" in error(response)["fields"]
    response = call(owner, "patch", f"{ACME}/environments/prod/", {"protected": False})
    assert response.status_code == 409 and "protected" in error(response)["fields"]
    mark = audit_mark()
    response = owner.delete(f"{ACME}/environments/prod/")
    assert response.status_code == 409
    assert "protected" in error(response)["message"]
    assert Environment.objects.filter(tenant=tenant, slug="prod").exists()
    assert events_since(mark) == []


def test_denied_environment_write_is_403_and_audited_once(personas, login):
    mark = audit_mark()
    response = call(login(personas["developer"]), "post", f"{ACME}/environments/",
                    {"slug": "qa", "name": "QA", "kind": "test"})
    assert response.status_code == 403
    assert error(response)["message"] == "You do not have the permission 'manage_environments' here."
    assert events_since(mark) == [("tenant.environment.create", "denied")]


# --- members ----------------------------------------------------------------

def test_member_list_filter_and_retrieve(personas, login):
    viewer = login(personas["viewer"])
    assert len(viewer.get(f"{ACME}/members/").json()["results"]) == 6
    assert slugs(viewer.get(f"{ACME}/members/?role=owner"), "user") == ["owner"]
    body = viewer.get(f"{ACME}/members/auditor/").json()
    assert (body["user"], body["email"], body["role"]) == ("auditor", "auditor@example.com", "auditor")
    assert viewer.get(f"{ACME}/members/outsider/").status_code == 404  # a globex member


def test_member_add_change_remove_with_audit(personas, login, tenant):
    UserFactory(username="newbie", email="newbie@example.com")
    owner = login(personas["owner"])
    mark = audit_mark()
    response = call(owner, "post", f"{ACME}/members/", {"user": "NEWBIE@example.com", "role": "viewer"})
    assert response.status_code == 202 and response.json()["user"] == "NEWBIE@example.com"
    assert events_since(mark) == [("tenant.member.add", "success")]
    assert owner.get(f"{ACME}/members/newbie/").json()["role"] == "viewer"

    mark = audit_mark()
    response = call(owner, "patch", f"{ACME}/members/newbie/", {"role": "developer"})
    assert response.status_code == 200 and response.json()["role"] == "developer"
    assert events_since(mark) == [("tenant.member.change_role", "success")]

    mark = audit_mark()
    assert owner.delete(f"{ACME}/members/newbie/").status_code == 204
    assert events_since(mark) == [("tenant.member.remove", "success")]
    assert not Membership.objects.filter(tenant=tenant, user__username="newbie").exists()


def test_member_add_does_not_reveal_whether_an_account_exists(personas, login, tenant):
    UserFactory(username="newbie")
    owner = login(personas["owner"])
    mark = audit_mark()
    answers = {name: call(owner, "post", f"{ACME}/members/", {"user": name, "role": "viewer"})
               for name in ("nobody", "newbie")}
    assert {r.status_code for r in answers.values()} == {202}
    ghost, real = (answers[n].json() for n in ("nobody", "newbie"))
    assert set(ghost) == set(real) == {"user", "role", "detail"}
    assert ghost["detail"] == real["detail"].replace("newbie", "nobody")
    assert events_since(mark) == [("tenant.member.add", "success")]
    assert not Membership.objects.filter(tenant=tenant, user__username="nobody").exists()


@pytest.mark.parametrize("body, status, field", [
    ({"user": "viewer", "role": "viewer"}, 409, "user"),
    ({"user": "outsider", "role": "emperor"}, 400, "role"),
])
def test_member_add_errors_name_the_field(personas, login, body, status, field):
    response = call(login(personas["owner"]), "post", f"{ACME}/members/", body)
    assert response.status_code == status
    assert field in error(response)["fields"]


def test_last_owner_cannot_be_removed_or_demoted(personas, login, tenant):
    owner = login(personas["owner"])
    mark = audit_mark()
    response = owner.delete(f"{ACME}/members/owner/")
    assert response.status_code == 409
    assert error(response)["message"] == "The last owner cannot be removed; make someone else owner first."
    response = call(owner, "patch", f"{ACME}/members/owner/", {"role": "admin"})
    assert response.status_code == 409 and "role" in error(response)["fields"]
    assert Membership.objects.get(tenant=tenant, user=personas["owner"]).role == "owner"
    assert events_since(mark) == []


def test_admin_cannot_grant_owner(personas, login):
    mark = audit_mark()
    response = call(login(personas["admin"]), "patch", f"{ACME}/members/viewer/", {"role": "owner"})
    assert response.status_code == 403
    assert error(response)["message"] == "You do not have the permission 'manage_owners' here."
    assert events_since(mark) == [("tenant.member.change_role", "denied")]


# --- quotas -----------------------------------------------------------------

def test_quota_list_retrieve_and_update(personas, login):
    owner = login(personas["owner"])
    assert sorted(slugs(owner.get(f"{ACME}/quotas/"), "environment")) == ["dev", "pre", "prod", "test"]
    assert slugs(owner.get(f"{ACME}/quotas/?kind=prod"), "environment") == ["prod"]
    assert owner.get(f"{ACME}/quotas/prod/").json()["cpu_millicores"] == 4000
    operator = login(personas["operator"])
    mark = audit_mark()
    response = call(operator, "patch", f"{ACME}/quotas/prod/", {"cpu_millicores": 8000, "exclusive_cpuset_cores": 2})
    assert response.status_code == 200
    assert response.json()["cpu_millicores"] == 8000 and response.json()["exclusive_cpuset_cores"] == 2
    assert events_since(mark) == [("tenant.quota.update", "success")]


def test_quota_put_sets_every_limit_and_needs_them_all(personas, login):
    operator = login(personas["operator"])
    body = {"cpu_millicores": 2000, "memory_mib": 4096, "ephemeral_storage_mib": 1024,
            "exclusive_cpuset_cores": 1, "pods": 10}
    response = call(operator, "put", f"{ACME}/quotas/dev/", body)
    assert response.status_code == 200
    assert {k: response.json()[k] for k in body} == body
    response = call(operator, "put", f"{ACME}/quotas/dev/", {"pods": 11})
    assert response.status_code == 400 and "cpu_millicores" in error(response)["fields"]


@pytest.mark.parametrize("persona", ["owner", "admin", "developer", "viewer"])
@pytest.mark.parametrize("method", ["patch", "put"])
def test_tenant_members_cannot_set_their_quota(personas, login, persona, method):
    body = {"cpu_millicores": 64000, "memory_mib": 8192, "ephemeral_storage_mib": 20480,
            "exclusive_cpuset_cores": 0, "pods": 500}
    mark = audit_mark()
    response = call(login(personas[persona]), method, f"{ACME}/quotas/dev/", body)
    assert response.status_code == 403
    assert error(response)["message"]
    assert events_since(mark) == [("tenant.quota.update", "denied")]
    assert Quota.objects.get(environment__tenant__slug="acme", environment__slug="dev").cpu_millicores == 4000


@pytest.mark.parametrize("body, field", [
    ({"exclusive_cpuset_cores": 5}, "exclusive_cpuset_cores"),  # 5 cores > 4000 millicores
    ({"pods": -1}, "pods"),
    ({"memory_mib": 10**12}, "memory_mib"),
])
def test_quota_validation_names_the_field(personas, login, body, field):
    response = call(login(personas["operator"]), "patch", f"{ACME}/quotas/dev/", body)
    assert response.status_code == 400
    assert field in error(response)["fields"]


# --- API tokens -------------------------------------------------------------

def test_token_plaintext_is_shown_once_and_never_listed(personas, login):
    owner = login(personas["owner"])
    mark = audit_mark()
    response = call(owner, "post", f"{ACME}/tokens/", {"name": "ci", "scope": "write"})
    assert response.status_code == 201
    body = response.json()
    plaintext = body["token"]
    assert plaintext.startswith(f"paas_{body['prefix']}_") and body["status"] == "active"
    assert events_since(mark) == [("tenant.token.create", "success")]
    secret = plaintext[len(f"paas_{body['prefix']}_"):]  # the secret itself may contain "_"
    key_hash = ApiToken.objects.get(pk=body["id"]).key_hash
    for response in (owner.get(f"{ACME}/tokens/"), owner.get(f"{ACME}/tokens/{body['id']}/")):
        assert response.status_code == 200
        for leak in (plaintext, secret, key_hash, "key_hash"):
            assert leak not in response.content.decode()
    row = owner.get(f"{ACME}/tokens/").json()["results"][0]
    assert set(row) == {"id", "name", "prefix", "scope", "user", "created_at", "expires_at", "last_used_at",
                        "revoked_at", "status"}


def test_token_create_validation(personas, login):
    owner = login(personas["owner"])
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = call(owner, "post", f"{ACME}/tokens/", {"name": "ci", "expires_at": past})
    assert response.status_code == 400 and "expires_at" in error(response)["fields"]
    response = call(owner, "post", f"{ACME}/tokens/", {"name": "ci", "scope": "admin"})
    assert response.status_code == 400 and "scope" in error(response)["fields"]


def test_token_authenticates_as_bearer_within_its_tenant(personas, tenant, other_tenant):
    add_member(other_tenant, personas["owner"], "owner")
    token, plaintext = make_token(personas["owner"], tenant, scope=ApiToken.Scope.WRITE)
    client = bearer(plaintext)
    me = client.get(f"{API}/me/").json()
    assert me["username"] == "owner"
    assert me["token"]["tenant"] == "acme" and me["token"]["scope"] == "write"
    assert [m["tenant"] for m in me["memberships"]] == ["acme"]
    assert slugs(client.get(f"{API}/tenants/")) == ["acme"]
    # The user owns globex too, but this token is for acme only.
    for url in ("tenants/globex/", "tenants/globex/environments/", "tenants/globex/members/owner/"):
        response = client.get(f"{API}/{url}")
        assert response.status_code == 404
        assert "globex" not in response.content.decode().lower()
    assert call(client, "patch", f"{API}/tenants/globex/", {"name": "Mine"}).status_code == 404
    assert call(client, "patch", f"{ACME}/", {"description": "via token"}).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_revoked_and_expired_tokens_are_rejected(personas, tenant):
    revoked, revoked_plain = make_token(personas["owner"], tenant, name="old")
    expired, expired_plain = make_token(personas["owner"], tenant, name="tmp",
                                        expires_at=timezone.now() + timedelta(minutes=1))
    client = bearer(revoked_plain)
    assert client.get(f"{API}/me/").status_code == 200
    token_revoke(actor=Actor.for_user(personas["owner"]), token=revoked)
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for plaintext in (revoked_plain, expired_plain, "paas_0123456789_not-a-secret"):
        response = bearer(plaintext).get(f"{API}/me/")
        assert response.status_code == 401
        assert error(response)["code"] == "not_authenticated"
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_read_only_token_cannot_write(personas, tenant):
    _, plaintext = make_token(personas["owner"], tenant, scope=ApiToken.Scope.READ)
    client = bearer(plaintext)
    assert client.get(f"{ACME}/environments/").status_code == 200
    for method, url, body, action in [
        ("patch", f"{ACME}/", {"name": "X"}, "tenant.update"),
        ("post", f"{ACME}/environments/", {"slug": "qa", "name": "QA", "kind": "dev"}, "tenant.environment.create"),
        ("delete", f"{ACME}/environments/dev/", None, "tenant.environment.delete"),
        ("post", f"{ACME}/quota-requests/", {"environment": "dev", "pods": 60, "reason": "more"},
         "tenant.quota_request.create"),
        ("delete", f"{ACME}/members/viewer/", None, "tenant.member.remove"),
    ]:
        mark = audit_mark()
        response = call(client, method, url, body)
        assert response.status_code == 403, url
        assert error(response)["message"] == "This API token is read-only."
        assert events_since(mark) == [(action, "denied")]
    response = call(client, "post", f"{ACME}/tokens/", {"name": "more"})
    assert response.status_code == 403  # tokens never mint tokens


def test_revoke_keeps_the_row(personas, login, tenant):
    token, plaintext = make_token(personas["developer"], tenant)
    other, _ = make_token(personas["developer"], tenant, name="other")
    developer = login(personas["developer"])
    mark = audit_mark()
    response = developer.post(f"{ACME}/tokens/{token.pk}/revoke/")
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    assert events_since(mark) == [("tenant.token.revoke", "success")]
    mark = audit_mark()
    assert developer.post(f"{ACME}/tokens/{token.pk}/revoke/").json()["status"] == "revoked"
    assert events_since(mark) == []  # already revoked: nothing to do
    assert developer.delete(f"{ACME}/tokens/{other.pk}/").status_code == 204
    assert ApiToken.objects.filter(pk=other.pk, revoked_at__isnull=False).exists()
    assert bearer(plaintext).get(f"{API}/me/").status_code == 401


def test_token_list_scoping_and_filters(personas, login, tenant):
    dev_token, _ = make_token(personas["developer"], tenant, name="dev-ci", scope=ApiToken.Scope.READ)
    make_token(personas["viewer"], tenant, name="viewer-ci")
    developer, owner = login(personas["developer"]), login(personas["owner"])
    assert slugs(developer.get(f"{ACME}/tokens/"), "name") == ["dev-ci"]
    assert sorted(slugs(owner.get(f"{ACME}/tokens/"), "name")) == ["dev-ci", "viewer-ci"]
    assert slugs(owner.get(f"{ACME}/tokens/?scope=read"), "name") == ["dev-ci"]
    assert slugs(owner.get(f"{ACME}/tokens/?user=viewer"), "name") == ["viewer-ci"]
    owner.delete(f"{ACME}/tokens/{dev_token.pk}/")
    assert slugs(owner.get(f"{ACME}/tokens/?status=revoked"), "name") == ["dev-ci"]
    assert slugs(owner.get(f"{ACME}/tokens/?status=active"), "name") == ["viewer-ci"]
    # Someone else's token is not there for a developer (404, not 403).
    viewer_token = ApiToken.objects.get(name="viewer-ci")
    assert developer.delete(f"{ACME}/tokens/{viewer_token.pk}/").status_code == 404


def test_bad_tokens_lock_the_address_but_never_refuse_a_valid_token(personas, tenant):
    _, plaintext = make_token(personas["owner"], tenant)
    statuses = [bearer("paas_0123456789_guess").get(f"{API}/me/").status_code for _ in range(50)]
    limit = settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS
    assert statuses == [401] * (limit - 1) + [429] * (50 - limit + 1)
    # The same address (127.0.0.1): a valid token still works.
    assert bearer(plaintext).get(f"{API}/me/").status_code == 200
    response = bearer("paas_0123456789_guess").get(f"{API}/me/")
    assert response.status_code == 429 and error(response)["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS
    assert bearer("paas_0123456789_guess").get(f"{API}/me/", REMOTE_ADDR="10.9.9.9").status_code == 401


def test_bad_tokens_are_audited_aggregated_without_secrets(personas, tenant):
    token, plaintext = make_token(personas["owner"], tenant)
    mark = audit_mark()
    for _ in range(50):
        bearer("paas_0123456789_guess").get(f"{API}/me/")
    assert events_since(mark) == [("auth.token.failed", "denied"), ("auth.lockout", "denied")]
    lockout.flush(now=timezone.now() + timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS))
    failed = AuditEvent.objects.filter(id__gt=mark, action="auth.token.failed")
    assert sum(event.changes["after"]["attempts"] for event in failed) == 50
    # A wrong secret for a real token names the token (never the secret) as the target.
    bearer(f"paas_{token.prefix}_not-the-secret").get(f"{API}/me/", REMOTE_ADDR="10.9.9.8")
    event = AuditEvent.objects.filter(action="auth.token.failed").first()
    assert (event.target_id, event.reason, event.source_ip) == (str(token.pk), "wrong secret", "10.9.9.8")
    assert "not-the-secret" not in str(event.changes) and plaintext.rsplit("_", 1)[1] not in str(event.changes)


def test_bad_tokens_are_counted_without_the_cache(personas, tenant, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 2
    with unreachable_cache():
        assert bearer("paas_0123456789_guess").get(f"{API}/me/").status_code == 401
        assert bearer("paas_0123456789_guess").get(f"{API}/me/").status_code == 429


# --- me ---------------------------------------------------------------------

def test_me_with_a_session(personas, login, other_tenant):
    add_member(other_tenant, personas["admin"], "viewer")
    body = login(personas["admin"]).get(f"{API}/me/").json()
    assert body["username"] == "admin" and body["is_staff"] is False and body["token"] is None
    assert body["memberships"] == [
        {"tenant": "acme", "name": "Acme Payments", "role": "admin"},
        {"tenant": "globex", "name": "Globex Bank", "role": "viewer"},
    ]
    assert login(personas["operator"]).get(f"{API}/me/").json()["memberships"] == []
