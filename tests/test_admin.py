"""The Django admin for operators: scoped to what a staff user may see, every
write through a service or at least one audit event, no secrets on screen."""
import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.forms import MultiWidget
from django.test import Client
from django.urls import reverse
from guardian.shortcuts import get_user_perms

from paas.audit.models import AuditEvent
from tenants.models import ApiToken, Environment, Membership, Quota, Tenant

from .factories import PASSWORD, UserFactory, make_token

pytestmark = pytest.mark.django_db

TENANT_MODELS = [Tenant, Environment, Membership, Quota, ApiToken]


def url(model_or_obj, view="changelist", *args):
    opts = model_or_obj._meta
    if view not in ("changelist", "add") and not args:
        args = (model_or_obj.pk,)
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def form_data(response) -> dict:
    """The POST data of an admin change form as it was rendered (to edit a field or two)."""
    form = response.context["adminform"].form
    data = {"_save": "Save"}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(field.widget, MultiWidget):
            for index, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{index}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(item) for item in value]
        elif value is not None:
            data[name] = str(value)
    return data


def new_events(since: int):
    return AuditEvent.objects.filter(id__gt=since).order_by("id")


def last_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def staff(user, *codenames):
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="tenants", codename__in=codenames))
    return user


# --- access ---------------------------------------------------------------------

def test_superuser_sees_every_admin_changelist(personas, login):
    client = login(personas["superuser"])
    for model in admin.site._registry:
        response = client.get(url(model))
        assert response.status_code == 200, model


def test_superuser_opens_every_tenants_change_page(personas, login, tenant):
    make_token(personas["developer"], tenant)
    client = login(personas["superuser"])
    for model in TENANT_MODELS:
        response = client.get(url(model.objects.first(), "change"))
        assert response.status_code == 200, model


@pytest.mark.parametrize("model", TENANT_MODELS)
def test_staff_without_permissions_is_refused(personas, login, model):
    client = login(UserFactory(username="staffer", is_staff=True))
    assert client.get(url(model)).status_code == 403


def test_staff_see_only_the_tenants_they_belong_to(personas, login, tenant, other_tenant):
    owner = staff(personas["owner"], "view_membership", "change_membership")
    client = login(owner)
    response = client.get(url(Membership))
    assert response.status_code == 200
    assert b"viewer" in response.content
    assert b"outsider" not in response.content
    foreign = Membership.objects.get(tenant=other_tenant, user=personas["outsider"])
    response = client.get(url(foreign, "change"))
    assert response.status_code == 302  # "does not exist", as for a missing object
    assert response["Location"] == reverse("admin:index")


def test_staff_without_the_tenant_permission_cannot_change(personas, login, tenant):
    # The model permission lets them into the admin; the role decides what they may change.
    developer = staff(personas["developer"], "view_quota", "change_quota")
    quota = Quota.objects.get(tenant=tenant, environment__slug="dev")
    client = login(developer)
    assert client.get(url(quota, "change")).status_code == 200  # read-only view
    data = {"cpu_millicores": 1, "memory_mib": 1, "ephemeral_storage_mib": 1, "exclusive_cpuset_cores": 0, "pods": 1}
    assert client.post(url(quota, "change"), data).status_code == 403
    quota.refresh_from_db()
    assert quota.cpu_millicores == 4000


# --- writes go through services, one audit event each ----------------------------

def test_quota_change_writes_exactly_one_audit_event(personas, login, tenant):
    quota = Quota.objects.get(tenant=tenant, environment__slug="dev")
    client = login(personas["superuser"])
    data = form_data(client.get(url(quota, "change")))
    data["cpu_millicores"] = "6000"
    since = last_event_id()

    response = client.post(url(quota, "change"), data)

    assert response.status_code == 302
    quota.refresh_from_db()
    assert quota.cpu_millicores == 6000
    events = list(new_events(since))
    assert [e.action for e in events] == ["tenant.quota.update"]
    assert events[0].actor_label == "root"
    assert events[0].changes == {"before": {"cpu_millicores": 4000}, "after": {"cpu_millicores": 6000}}


def test_tenant_change_goes_through_the_service(personas, login, tenant):
    client = login(personas["superuser"])
    data = form_data(client.get(url(tenant, "change")))
    data["name"] = "Acme Payments EU"
    since = last_event_id()
    assert client.post(url(tenant, "change"), data).status_code == 302
    assert [e.action for e in new_events(since)] == ["tenant.update"]
    tenant.refresh_from_db()
    assert tenant.name == "Acme Payments EU"


def test_tenant_added_in_the_admin_is_created_by_the_service(personas, login):
    client = login(personas["superuser"])
    response = client.post(url(Tenant, "add"), {"name": "Initech", "slug": "initech", "description": "",
                                                "_save": "Save"})
    assert response.status_code == 302
    created = Tenant.objects.get(slug="initech")
    assert response["Location"] == url(Tenant)
    assert sorted(created.environments.values_list("slug", flat=True)) == ["dev", "pre", "prod", "test"]
    assert AuditEvent.objects.filter(action="tenant.create", target_id=str(created.pk)).count() == 1


def test_membership_add_and_remove_go_through_the_services(personas, login, tenant):
    newcomer = UserFactory(username="newcomer")
    client = login(personas["superuser"])
    since = last_event_id()
    response = client.post(url(Membership, "add"), {"tenant": tenant.pk, "user": newcomer.pk, "role": "auditor",
                                                    "_save": "Save"})
    assert response.status_code == 302
    membership = Membership.objects.get(tenant=tenant, user=newcomer)
    assert "view_audit" in get_user_perms(newcomer, tenant)
    assert client.post(url(membership, "delete"), {"post": "yes"}).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert get_user_perms(newcomer, tenant).count() == 0
    assert [e.action for e in new_events(since)] == ["tenant.member.add", "tenant.member.remove"]


def test_membership_role_change_syncs_permissions(personas, login, tenant):
    membership = Membership.objects.get(tenant=tenant, user=personas["viewer"])
    client = login(personas["superuser"])
    data = form_data(client.get(url(membership, "change")))
    data["role"] = "developer"
    since = last_event_id()
    assert client.post(url(membership, "change"), data).status_code == 302
    assert [e.action for e in new_events(since)] == ["tenant.member.change_role"]
    assert "release_application" in get_user_perms(personas["viewer"], tenant)


def test_granting_the_owner_role_needs_manage_owners(personas, login, tenant):
    admin_user = staff(personas["admin"], "view_membership", "change_membership")
    membership = Membership.objects.get(tenant=tenant, user=personas["viewer"])
    client = login(admin_user)
    data = form_data(client.get(url(membership, "change")))
    data["role"] = "owner"
    since = last_event_id()
    response = client.post(url(membership, "change"), data)
    assert response.status_code == 200
    assert b"owner role" in response.content
    membership.refresh_from_db()
    assert membership.role == "viewer"
    assert not new_events(since).exists()


def test_domain_error_is_a_message_not_a_500(personas, login, tenant):
    quota = Quota.objects.get(tenant=tenant, environment__slug="dev")
    client = login(personas["superuser"])
    data = form_data(client.get(url(quota, "change")))
    data["exclusive_cpuset_cores"] = "5"  # needs 5000 millicores; the quota has 4000
    since = last_event_id()
    response = client.post(url(quota, "change"), data, follow=True)
    assert response.status_code == 200
    assert b"Exclusive cpuset cores" in response.content
    quota.refresh_from_db()
    assert quota.exclusive_cpuset_cores == 0
    assert not new_events(since).exists()


def test_protected_environment_cannot_be_deleted_and_others_are_deleted_by_the_service(personas, login, tenant):
    client = login(personas["superuser"])
    prod = Environment.objects.get(tenant=tenant, slug="prod")
    assert client.get(url(prod, "delete")).status_code == 403
    dev = Environment.objects.get(tenant=tenant, slug="dev")
    since = last_event_id()
    assert client.post(url(dev, "delete"), {"post": "yes"}).status_code == 302
    assert not Environment.objects.filter(pk=dev.pk).exists()
    assert [e.action for e in new_events(since)] == ["tenant.environment.delete"]


def test_environment_object_permission_grant_is_audited(personas, login, tenant):
    env = Environment.objects.get(tenant=tenant, slug="prod")
    viewer = personas["viewer"]
    client = login(personas["superuser"])
    since = last_event_id()
    response = client.post(url(env, "permissions_manage_user", env.pk, viewer.pk),
                           {"permissions": ["release_application"]})
    assert response.status_code == 302
    assert viewer.has_perm("tenants.release_application", env)
    event = new_events(since).get()
    assert event.action == "admin.environment.permissions"
    assert event.changes["after"] == {"user": "viewer", "permissions": ["release_application"]}


def test_model_without_a_service_is_audited_by_the_admin_mixin(personas, login):
    group = Group.objects.create(name="operators")
    client = login(personas["superuser"])
    data = form_data(client.get(url(group, "change")))
    data["name"] = "platform-operators"
    data["permissions"] = [str(Permission.objects.get(codename="add_tenant").pk)]
    since = last_event_id()
    assert client.post(url(group, "change"), data).status_code == 302
    event = new_events(since).get()
    assert event.action == "admin.group.change"
    assert event.changes["after"]["name"] == "platform-operators"
    assert event.changes["after"]["permissions"] == ["Tenants | tenant | Can add tenant"]


def test_making_a_user_superuser_is_audited(personas, login):
    target = personas["viewer"]
    client = login(personas["superuser"])
    data = form_data(client.get(url(target, "change")))
    data["is_superuser"] = "on"
    since = last_event_id()
    assert client.post(url(target, "change"), data).status_code == 302
    event = new_events(since).get()
    assert event.action == "admin.user.change"
    assert event.changes["before"]["is_superuser"] is False
    assert event.changes["after"]["is_superuser"] is True


# --- API tokens -------------------------------------------------------------------

def test_token_page_never_shows_the_key_hash(personas, login, tenant):
    token, plaintext = make_token(personas["developer"], tenant)
    client = login(personas["superuser"])
    for response in (client.get(url(token, "change")), client.get(url(ApiToken))):
        assert response.status_code == 200
        assert token.prefix.encode() in response.content
        assert token.key_hash.encode() not in response.content
        assert plaintext.split("_")[-1].encode() not in response.content
    assert client.get(url(ApiToken, "add")).status_code == 403


def test_revoke_action_goes_through_the_service(personas, login, tenant):
    token, _ = make_token(personas["developer"], tenant)
    client = login(personas["superuser"])
    since = last_event_id()
    response = client.post(url(ApiToken), {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert [e.action for e in new_events(since)] == ["tenant.token.revoke"]


def test_tokens_cannot_be_edited_in_the_admin(personas, login, tenant):
    token, _ = make_token(personas["developer"], tenant)
    client = login(personas["superuser"])
    response = client.post(url(token, "change"), {"name": "renamed"})
    assert response.status_code == 403
    token.refresh_from_db()
    assert token.name == "test"


# --- /admin/login/: the portal's lockout and audit --------------------------------

ADMIN_LOGIN = "/admin/login/"


def admin_sign_in(client, username, password):
    return client.post(ADMIN_LOGIN, {"username": username, "password": password, "next": "/admin/"})


def test_admin_login_is_audited(client):
    operator = UserFactory(username="op", is_staff=True)
    response = admin_sign_in(client, "op", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    event = AuditEvent.objects.get(action="auth.login")
    assert (event.user_id, event.outcome, event.changes["after"]) == (operator.pk, "success", {"via": "admin"})


def test_admin_login_failures_count_toward_the_same_lock(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    UserFactory(username="op", is_staff=True)
    for _ in range(2):
        response = admin_sign_in(Client(), "op", "wrong")
        assert response.status_code == 200 and "_auth_user_id" not in response.wsgi_request.session
    failed = AuditEvent.objects.get(action="auth.login.failed")
    assert (failed.target_label, failed.outcome, failed.changes["after"]["via"]) == ("op", "denied", "admin")
    # The third failure, on the portal page, locks the account for both pages.
    assert Client().post("/accounts/login/", {"username": "op", "password": "wrong"}).status_code == 429
    response = admin_sign_in(Client(), "op", PASSWORD)
    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session
    assert AuditEvent.objects.filter(action="auth.lockout", target_label="op").count() == 1
    assert not AuditEvent.objects.filter(action="auth.login").exists()


def test_an_account_locked_through_the_admin_is_locked_on_the_portal(settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    UserFactory(username="op", is_staff=True)
    for _ in range(2):
        admin_sign_in(Client(), "op", "wrong")
    assert Client().post("/accounts/login/", {"username": "op", "password": PASSWORD}).status_code == 429


def test_a_non_staff_password_on_the_admin_page_is_refused_and_audited(client):
    UserFactory(username="dev")
    response = admin_sign_in(client, "dev", PASSWORD)
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="auth.login.failed")
    assert (event.target_label, event.reason) == ("dev", "refused: not a staff account")
    assert not AuditEvent.objects.filter(action="auth.login").exists()


def test_an_operator_can_lift_a_lock_and_it_is_audited(settings, client):
    from paas.models import LoginThrottle

    settings.LOGIN_FAILURE_LIMIT = 1
    UserFactory(username="dev")
    Client().post("/accounts/login/", {"username": "dev", "password": "wrong"})
    assert Client().post("/accounts/login/", {"username": "dev", "password": PASSWORD}).status_code == 429
    row = LoginThrottle.objects.get(kind="account", key="dev")
    staff_user = UserFactory(username="helpdesk", is_staff=True)
    client.force_login(staff_user)
    assert client.post(url(row, "delete"), {"post": "yes"}).status_code == 403  # not without the permission
    client.force_login(UserFactory(username="root2", is_staff=True, is_superuser=True))
    assert client.get(url(LoginThrottle)).status_code == 200
    assert client.post(url(row, "change")).status_code == 403  # read-only
    assert client.post(url(row, "delete"), {"post": "yes"}).status_code == 302
    assert AuditEvent.objects.filter(action="admin.loginthrottle.delete", target_label="account:dev").exists()
    assert Client().post("/accounts/login/", {"username": "dev", "password": PASSWORD}).status_code == 302

# --- quotas belong to the platform ---------------------------------------------

def test_owner_cannot_raise_their_quota_in_the_admin(personas, login, tenant):
    owner = staff(personas["owner"], "view_quota", "change_quota")
    quota = Quota.objects.get(tenant=tenant, environment__slug="dev")
    client = login(owner)
    assert client.get(url(quota, "change")).status_code == 200  # read-only view
    data = {"cpu_millicores": 64000, "memory_mib": 8192, "ephemeral_storage_mib": 20480,
            "exclusive_cpuset_cores": 0, "pods": 50}
    assert client.post(url(quota, "change"), data).status_code == 403
    quota.refresh_from_db()
    assert quota.cpu_millicores == 4000


def test_operator_sets_a_quota_in_the_admin(personas, login, tenant):
    operator = staff(personas["operator"], "view_quota", "change_quota")  # set_quota from the persona
    quota = Quota.objects.get(tenant=tenant, environment__slug="dev")
    client = login(operator)
    data = form_data(client.get(url(quota, "change")))
    data["pods"] = "75"
    since = last_event_id()
    assert client.post(url(quota, "change"), data).status_code == 302
    quota.refresh_from_db()
    assert quota.pods == 75
    assert [(e.action, e.user_id) for e in new_events(since)] == [("tenant.quota.update", operator.pk)]


def test_quota_requests_are_read_only_and_operators_approve_in_bulk(personas, login, tenant, other_tenant):
    from paas.actors import Actor
    from tenants.models import QuotaRequest
    from tenants.quota_requests import quota_request_create

    mine = quota_request_create(actor=Actor.for_user(personas["owner"]), reason="more",
                                environment=tenant.environments.get(slug="dev"), pods=60)
    theirs = quota_request_create(actor=Actor.for_user(personas["outsider"]), reason="more",
                                  environment=other_tenant.environments.get(slug="dev"), pods=70)
    owner = login(staff(personas["owner"], "view_quotarequest"))
    response = owner.get(url(QuotaRequest))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [mine]
    assert response.context["action_form"] is None  # no approve action for tenant members
    assert owner.get(url(mine, "change")).status_code == 200
    assert owner.post(url(mine, "change"), {"state": "approved"}).status_code == 403

    operator = login(staff(personas["operator"], "view_quotarequest"))
    assert set(operator.get(url(QuotaRequest)).context["cl"].result_list) == {mine, theirs}
    since = last_event_id()
    response = operator.post(url(QuotaRequest), {"action": "approve", "_selected_action": [mine.pk, theirs.pk]})
    assert response.status_code == 302
    assert set(QuotaRequest.objects.values_list("state", flat=True)) == {"approved"}
    assert Quota.objects.get(tenant=other_tenant, environment__slug="dev").pods == 70
    assert [e.action for e in new_events(since)].count("tenant.quota_request.approve") == 2
