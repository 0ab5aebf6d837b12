"""Signing in and out: lockout after repeated failures, audit of every attempt,
logout by POST only, and anonymous visitors sent to the login page."""
import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from paas.audit.models import AuditEvent

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def _clean_lockout():
    # Lockout counters live in the (process-wide) cache.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


def sign_in(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def test_login_page_renders(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body and 'name="password"' in body and "csrfmiddlewaretoken" in body


def test_login_succeeds_and_is_audited(client, alice):
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert client.get("/").status_code == 200
    event = AuditEvent.objects.get(action="auth.login")
    assert (event.actor_type, event.user_id, event.outcome) == ("user", alice.pk, "success")


def test_login_follows_safe_next_only(client, alice):
    response = sign_in(client, "alice", PASSWORD, next="/tenants/")
    assert response["Location"] == "/tenants/"
    client.post(reverse("logout"))
    response = sign_in(client, "alice", PASSWORD, next="https://evil.example/")
    assert response["Location"] == reverse("dashboard")


def test_wrong_password_shows_error_and_is_audited(client, alice):
    response = sign_in(client, "alice", "not-the-password")
    assert response.status_code == 200
    assert "The username or password is not correct." in response.content.decode()
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="auth.login.failed")
    assert (event.actor_type, event.outcome, event.target_type, event.target_label) == (
        "anonymous", "denied", "auth.user", "alice")
    assert event.source_ip == "127.0.0.1"


def test_repeated_failures_lock_the_account(client, alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(2):
        assert sign_in(client, "alice", "wrong").status_code == 200
    locking = sign_in(client, "alice", "wrong")
    assert locking.status_code == 429
    response = sign_in(client, "Alice", PASSWORD)  # the right password, any case
    assert response.status_code == 429
    assert "Too many failed sign-ins; try again in 15 minutes." in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.login.failed", outcome="denied").count() == 4
    assert not AuditEvent.objects.filter(action="auth.login").exists()


def test_lock_is_per_username_and_per_address(alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    UserFactory(username="bob")
    attacker = Client(REMOTE_ADDR="10.0.0.66")
    for name in ("carol", "dave", "erin"):  # spraying: a different account each time
        sign_in(attacker, name, "guess")
    assert sign_in(attacker, "bob", PASSWORD).status_code == 429  # the address is locked
    assert sign_in(Client(REMOTE_ADDR="10.0.0.7"), "bob", PASSWORD).status_code == 302


def test_an_address_tolerates_more_failures_than_one_account(alice, settings):
    # A whole office behind one NAT address must not be locked out by a few typos.
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 6
    office = Client(REMOTE_ADDR="10.0.0.80")
    for name in ("carol", "dave", "erin", "frank", "gina"):
        sign_in(office, name, "typo")
    assert sign_in(office, "alice", PASSWORD).status_code == 302
    sign_in(office, "harry", "typo")
    assert sign_in(Client(REMOTE_ADDR="10.0.0.80"), "alice", PASSWORD).status_code == 429


def test_successful_login_resets_the_username_counter(alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for addr in ("10.0.0.1", "10.0.0.2"):
        sign_in(Client(REMOTE_ADDR=addr), "alice", "wrong")
    assert sign_in(Client(REMOTE_ADDR="10.0.0.3"), "alice", PASSWORD).status_code == 302
    for addr in ("10.0.0.4", "10.0.0.5"):
        sign_in(Client(REMOTE_ADDR=addr), "alice", "wrong")
    assert sign_in(Client(REMOTE_ADDR="10.0.0.6"), "alice", PASSWORD).status_code == 302


def test_inactive_user_cannot_sign_in(client):
    UserFactory(username="gone", is_active=False)
    response = sign_in(client, "gone", PASSWORD)
    assert response.status_code == 200 and "not correct" in response.content.decode()


def test_logout_requires_post_and_is_audited(client, alice):
    sign_in(client, "alice", PASSWORD)
    assert client.get(reverse("logout")).status_code == 405
    assert client.get("/").status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert AuditEvent.objects.filter(action="auth.logout", user_id=alice.pk).count() == 1
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("path", [
    "/", "/tenants/", "/tenants/acme/", "/tenants/acme/members/", "/tenants/acme/quotas/",
    "/tenants/acme/tokens/", "/tenants/-/new/", "/coming-soon/clusters/",
])
def test_anonymous_pages_redirect_to_login(client, tenant, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={path}"


def test_signed_in_user_visiting_login_goes_to_dashboard(client, alice):
    sign_in(client, "alice", PASSWORD)
    response = client.get(LOGIN)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
