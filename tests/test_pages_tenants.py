"""Tenant pages end to end: each page renders for members, each form writes
through its service, and each successful write leaves its audit event."""
import re

import pytest
from django.urls import reverse

from paas.audit.models import AuditEvent
from tenants.models import ApiToken, Environment, Membership, Quota, Tenant

from .factories import UserFactory, make_token

pytestmark = pytest.mark.django_db

TOKEN_RE = re.compile(r"paas_[0-9a-f]{10}_[A-Za-z0-9_-]{20,}")


def last_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def new_actions(since: int) -> list[str]:
    return list(AuditEvent.objects.filter(id__gt=since).order_by("id").values_list("action", flat=True))


def content(response) -> str:
    return response.content.decode()


@pytest.fixture
def owner(personas, login):
    return login(personas["owner"])


@pytest.mark.parametrize("url_name, kwargs, expected", [
    ("dashboard", {}, ["Acme Payments", "Recent activity"]),
    ("tenants:list", {}, ["Acme Payments", "acme"]),
    ("tenants:detail", {"slug": "acme"}, ["Production", "Pre-production", "4 cores", "8 GiB", "New environment"]),
    ("tenants:edit", {"slug": "acme"}, ["Acme Payments", "Archive tenant"]),
    ("tenants:environment-create", {"slug": "acme"}, ["New environment", 'name="slug"']),
    ("tenants:environment-edit", {"slug": "acme", "env": "dev"}, ["Development", 'name="protected"']),
    ("tenants:members", {"slug": "acme"}, ["developer@example.com", "Invite a member", "Approver"]),
    ("tenants:quotas", {"slug": "acme"}, ["4 cores", "20 GiB", "Total", "16 cores"]),
    ("tenants:quota-request", {"slug": "acme", "env": "dev"}, ['value="4"', 'value="8"', "GiB", 'name="reason"']),
    ("tenants:tokens", {"slug": "acme"}, ["No API tokens yet", "New token"]),
    ("tenants:token-create", {"slug": "acme"}, ["Read-only", "Read-write", "expires_in_days"]),
])
def test_page_renders_for_owner(owner, url_name, kwargs, expected):
    response = owner.get(reverse(url_name, kwargs=kwargs))
    assert response.status_code == 200
    for text in expected:
        assert text in content(response), text


def test_viewer_sees_pages_without_management_controls(personas, login):
    client = login(personas["viewer"])
    detail = content(client.get("/tenants/acme/"))
    assert "Production" in detail and "New environment" not in detail and "Recent activity" not in detail
    members = content(client.get("/tenants/acme/members/"))
    assert "owner@example.com" in members and "Invite a member" not in members and "Remove" not in members
    quotas = content(client.get("/tenants/acme/quotas/"))
    assert "4 cores" in quotas and "/quotas/dev/edit/" not in quotas and "/quotas/dev/request/" not in quotas


def test_denied_form_shows_403_page_with_reason(personas, login):
    response = login(personas["viewer"]).get("/tenants/acme/environments/new/")
    assert response.status_code == 403
    assert "Create and edit environments" in content(response)


def test_viewing_a_tenant_makes_it_the_current_one(personas, login, other_tenant):
    from .factories import add_member

    add_member(other_tenant, personas["owner"], "viewer")
    client = login(personas["owner"])
    client.get("/tenants/globex/")
    assert client.session["current_tenant"] == "globex"
    response = client.post(reverse("set-tenant"), {"tenant": "acme"})
    assert response.status_code == 302 and response["Location"] == "/tenants/acme/"
    assert client.session["current_tenant"] == "acme"


# --- tenants ----------------------------------------------------------------

def test_operator_creates_tenant(personas, login):
    client = login(personas["operator"])
    since = last_event_id()
    response = client.post(reverse("tenants:create"), {
        "name": "Initech Cards", "slug": "initech", "description": "Card issuing", "owner": "developer",
        "default_environments": "on"})
    assert response.status_code == 302 and response["Location"] == "/tenants/initech/"
    tenant = Tenant.objects.get(slug="initech")
    assert Membership.objects.get(tenant=tenant).user == personas["developer"]
    assert new_actions(since).count("tenant.create") == 1
    assert tenant.environments.count() == 4


def test_tenant_create_shows_service_errors_on_fields(personas, login):
    client = login(personas["operator"])
    response = client.post(reverse("tenants:create"), {"name": "Dup", "slug": "acme", "owner": ""})
    assert response.status_code == 200
    assert "already exists" in content(response) and "is-invalid" in content(response)
    response = client.post(reverse("tenants:create"), {"name": "X", "slug": "x1", "owner": "nobody-here"})
    assert "No active account" in content(response)
    assert not Tenant.objects.filter(slug="x1").exists()


def test_tenant_edit_and_archive(owner, tenant):
    since = last_event_id()
    response = owner.post("/tenants/acme/edit/", {"name": "Acme Pay", "description": "Payments"})
    assert response.status_code == 302
    assert new_actions(since) == ["tenant.update"]
    since = last_event_id()
    response = owner.post("/tenants/acme/archive/", follow=True)
    assert "archived" in content(response)
    assert new_actions(since) == ["tenant.archive"]
    tenant.refresh_from_db()
    assert (tenant.name, tenant.is_active) == ("Acme Pay", False)


# --- environments -----------------------------------------------------------

def test_environment_create(owner, tenant):
    since = last_event_id()
    response = owner.post("/tenants/acme/environments/new/", {
        "name": "Performance", "slug": "perf", "kind": "test", "description": "Load tests"})
    assert response.status_code == 302
    env = Environment.objects.get(tenant=tenant, slug="perf")
    assert Quota.objects.filter(environment=env).exists()
    assert new_actions(since) == ["tenant.environment.create", "tenant.quota.create"]


def test_environment_create_duplicate_slug_is_a_field_error(owner):
    since = last_event_id()
    response = owner.post("/tenants/acme/environments/new/", {"name": "Dev 2", "slug": "dev", "kind": "dev"})
    assert response.status_code == 200
    assert "already has an environment" in content(response)
    assert new_actions(since) == []


def test_environment_edit(owner, tenant):
    since = last_event_id()
    response = owner.post("/tenants/acme/environments/dev/edit/",
                          {"name": "Dev sandbox", "description": "x", "protected": "on"})
    assert response.status_code == 302
    env = Environment.objects.get(tenant=tenant, slug="dev")
    assert (env.name, env.protected) == ("Dev sandbox", True)
    assert new_actions(since) == ["tenant.environment.update"]


def test_environment_delete_non_prod(owner, tenant):
    since = last_event_id()
    response = owner.post("/tenants/acme/environments/test/delete/", follow=True)
    assert "was deleted" in content(response)
    assert not Environment.objects.filter(tenant=tenant, slug="test").exists()
    assert new_actions(since) == ["tenant.environment.delete"]


def test_environment_delete_prod_is_refused_with_message(owner, tenant):
    since = last_event_id()
    response = owner.post("/tenants/acme/environments/prod/delete/", follow=True)
    assert response.status_code == 200
    assert "is protected and cannot be deleted" in content(response)
    assert Environment.objects.filter(tenant=tenant, slug="prod").exists()
    assert new_actions(since) == []


# --- members ----------------------------------------------------------------

def test_invite_member_by_username_and_email(owner, tenant):
    UserFactory(username="newbie")
    since = last_event_id()
    response = owner.post("/tenants/acme/members/invite/", {"user": "newbie", "role": "developer"})
    assert response.status_code == 302
    assert Membership.objects.get(tenant=tenant, user__username="newbie").role == "developer"
    assert new_actions(since) == ["tenant.member.add"]
    UserFactory(username="mailer", email="Mail.Er@Example.com")
    owner.post("/tenants/acme/members/invite/", {"user": "mail.er@example.com", "role": "viewer"})
    assert Membership.objects.filter(tenant=tenant, user__username="mailer").exists()


def test_invite_answers_the_same_whether_the_account_exists_or_not(owner, tenant):
    # The form must not tell which accounts exist on the platform: one status, one message.
    UserFactory(username="newbie")
    since = last_event_id()
    pages = {}
    for name in ("ghost", "newbie"):
        response = owner.post("/tenants/acme/members/invite/", {"user": name, "role": "viewer"}, follow=True)
        assert response.redirect_chain == [("/tenants/acme/members/", 302)]
        pages[name] = [str(m) for m in response.context["messages"]]
    assert pages["ghost"] == [pages["newbie"][0].replace("newbie", "ghost")]
    assert "If an active account" in pages["ghost"][0]
    assert new_actions(since) == ["tenant.member.add"]  # only the real account was added
    assert not Membership.objects.filter(tenant=tenant, user__username="ghost").exists()


def test_admin_cannot_offer_owner_role(personas, login):
    page = content(login(personas["admin"]).get("/tenants/acme/members/"))
    assert 'value="owner"' not in page and 'value="admin"' in page


def test_change_role(owner, personas, tenant):
    membership = Membership.objects.get(tenant=tenant, user=personas["viewer"])
    since = last_event_id()
    response = owner.post(f"/tenants/acme/members/{membership.pk}/role/", {"role": "auditor"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == "auditor"
    assert new_actions(since) == ["tenant.member.change_role"]


def test_change_role_with_htmx_returns_the_row(owner, personas, tenant):
    membership = Membership.objects.get(tenant=tenant, user=personas["viewer"])
    response = owner.post(f"/tenants/acme/members/{membership.pk}/role/", {"role": "developer"},
                          HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = content(response)
    assert body.lstrip().startswith("<tr") and f'id="member-{membership.pk}"' in body
    assert 'value="developer" selected' in body


def test_remove_member(owner, personas, tenant):
    membership = Membership.objects.get(tenant=tenant, user=personas["viewer"])
    since = last_event_id()
    response = owner.post(f"/tenants/acme/members/{membership.pk}/remove/", follow=True)
    assert "was removed" in content(response)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert new_actions(since) == ["tenant.member.remove"]


def test_last_owner_cannot_leave_or_be_demoted(owner, personas, tenant):
    membership = Membership.objects.get(tenant=tenant, user=personas["owner"])
    since = last_event_id()
    response = owner.post(f"/tenants/acme/members/{membership.pk}/role/", {"role": "admin"}, follow=True)
    assert "at least one owner" in content(response)
    response = owner.post(f"/tenants/acme/members/{membership.pk}/remove/", follow=True)
    assert "last owner cannot be removed" in content(response)
    membership.refresh_from_db()
    assert membership.role == "owner"
    assert new_actions(since) == []


# --- quotas -----------------------------------------------------------------

@pytest.fixture
def operator(personas, login):
    return login(personas["operator"])


def test_owner_is_offered_a_request_not_an_edit(owner):
    quotas = content(owner.get("/tenants/acme/quotas/"))
    assert "/quotas/dev/request/" in quotas and "/quotas/dev/edit/" not in quotas
    assert "Request more" in quotas


def test_owner_cannot_set_quotas_and_the_attempt_is_audited(owner, personas, tenant):
    assert owner.get("/tenants/acme/quotas/dev/edit/").status_code == 403
    since = last_event_id()
    response = owner.post("/tenants/acme/quotas/dev/edit/", {
        "cpu_millicores": "400", "memory_mib": "8", "ephemeral_storage_mib": "20",
        "exclusive_cpuset_cores": "0", "pods": "50"})
    assert response.status_code == 403
    assert Quota.objects.get(environment__tenant=tenant, environment__slug="dev").cpu_millicores == 4000
    event = AuditEvent.objects.get(id__gt=since)
    assert (event.action, event.outcome, event.user_id, event.tenant_slug) == (
        "tenant.quota.update", "denied", personas["owner"].pk, "acme")


def test_operator_sees_edit_links(operator):
    quotas = content(operator.get("/tenants/acme/quotas/"))
    assert "/quotas/dev/edit/" in quotas and "/quotas/dev/request/" not in quotas


def test_quota_edit_in_human_units(operator, tenant):
    owner = operator
    since = last_event_id()
    response = owner.post("/tenants/acme/quotas/dev/edit/", {
        "cpu_millicores": "8.5", "memory_mib": "16", "ephemeral_storage_mib": "0.5",
        "exclusive_cpuset_cores": "2", "pods": "80"})
    assert response.status_code == 302
    quota = Quota.objects.get(environment__tenant=tenant, environment__slug="dev")
    assert (quota.cpu_millicores, quota.memory_mib, quota.ephemeral_storage_mib) == (8500, 16384, 512)
    assert (quota.exclusive_cpuset_cores, quota.pods) == (2, 80)
    assert new_actions(since) == ["tenant.quota.update"]
    assert "8.5 cores" in content(owner.get("/tenants/acme/quotas/"))


def test_quota_edit_validation_error_is_shown_next_to_the_field(operator, tenant):
    owner = operator
    since = last_event_id()
    response = owner.post("/tenants/acme/quotas/dev/edit/", {
        "cpu_millicores": "4", "memory_mib": "8", "ephemeral_storage_mib": "20",
        "exclusive_cpuset_cores": "6", "pods": "-1"})
    assert response.status_code == 200
    assert 'id="id_pods_error"' in content(response)  # form validation
    response = owner.post("/tenants/acme/quotas/dev/edit/", {
        "cpu_millicores": "4", "memory_mib": "8", "ephemeral_storage_mib": "20",
        "exclusive_cpuset_cores": "6", "pods": "50"})
    body = content(response)
    assert 'id="id_exclusive_cpuset_cores_error"' in body  # service DomainError on its field
    assert "need at least 6000 millicores" in body
    assert Quota.objects.get(environment__tenant=tenant, environment__slug="dev").exclusive_cpuset_cores == 0
    assert new_actions(since) == []


# --- tokens -----------------------------------------------------------------

def test_token_create_shows_plaintext_once(owner, personas, tenant):
    since = last_event_id()
    response = owner.post("/tenants/acme/tokens/new/", {"name": "CI pipeline", "scope": "write",
                                                         "expires_in_days": "30"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    plaintext = TOKEN_RE.search(content(response)).group(0)
    token = ApiToken.objects.get(tenant=tenant, name="CI pipeline")
    assert token.user == personas["owner"] and token.scope == "write" and token.expires_at is not None
    assert ApiToken.hash_secret(plaintext.split("_", 2)[2]) == token.key_hash
    assert new_actions(since) == ["tenant.token.create"]
    listing = content(owner.get("/tenants/acme/tokens/"))
    assert plaintext not in listing and TOKEN_RE.search(listing) is None
    assert token.prefix in listing and "CI pipeline" in listing


def test_token_create_expiry_errors(owner):
    response = owner.post("/tenants/acme/tokens/new/", {"name": "x", "scope": "read", "expires_on": "2001-01-01"})
    assert response.status_code == 200 and "must be in the future" in content(response)
    response = owner.post("/tenants/acme/tokens/new/", {"name": "x", "scope": "read", "expires_in_days": "5",
                                                         "expires_on": "2999-01-01"})
    assert "not both" in content(response)
    assert not ApiToken.objects.filter(name="x").exists()


def test_token_list_scoping_and_revoke(personas, login, tenant):
    dev_token, _ = make_token(personas["developer"], tenant, name="dev-token")
    viewer_token, _ = make_token(personas["viewer"], tenant, name="viewer-token")
    viewer = login(personas["viewer"])
    page = content(viewer.get("/tenants/acme/tokens/"))
    assert "viewer-token" in page and "dev-token" not in page
    assert viewer.post(f"/tenants/acme/tokens/{dev_token.pk}/revoke/").status_code == 404
    admin = login(personas["admin"])
    assert "dev-token" in content(admin.get("/tenants/acme/tokens/"))
    since = last_event_id()
    response = admin.post(f"/tenants/acme/tokens/{dev_token.pk}/revoke/", follow=True)
    assert "was revoked" in content(response)
    dev_token.refresh_from_db()
    assert dev_token.status == "revoked"
    assert new_actions(since) == ["tenant.token.revoke"]


# --- shell pages --------------------------------------------------------------

def test_dashboard_for_operator_offers_create(personas, login):
    page = content(login(personas["operator"]).get("/"))
    assert "Create tenant" in page and "Acme Payments" in page and "Globex Bank" in page


def test_placeholder_sections_and_health(personas, login, client):
    user = login(personas["viewer"])
    for section in ("clusters",):
        response = user.get(reverse("coming-soon", args=[section]))
        assert response.status_code == 200 and "next release" in content(response)
    assert user.get("/coming-soon/nope/").status_code == 404
    assert user.get("/coming-soon/applications/").status_code == 404  # a real section now
    assert user.get("/coming-soon/releases/").status_code == 404
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_language_switch_and_shell(personas, login):
    client = login(personas["viewer"])
    page = content(client.get("/"))
    assert 'data-user-authenticated="true"' in page and 'id="toast-area"' in page
    assert "js/notifications.js" in page and 'action="/i18n/setlang/"' in page
    assert "/admin/" not in page  # not staff
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/tenants/"})
    assert response.status_code == 302 and response["Location"] == "/tenants/"
    assert client.cookies["django_language"].value == "zh-hans"
    assert '/admin/' in content(login(personas["operator"]).get("/"))


def test_the_platform_slug_is_reserved_for_the_base_images_namespace(db):
    from django.contrib.auth import get_user_model

    from paas.actors import Actor
    from paas.errors import DomainError
    from tenants.services import tenant_create

    operator = get_user_model().objects.create_superuser("root-op", "r@example.com", "x")
    with pytest.raises(DomainError) as refused:
        tenant_create(actor=Actor.for_user(operator), name="Platform", slug="Platform")
    assert refused.value.field == "slug" and "reserved" in str(refused.value.message)
