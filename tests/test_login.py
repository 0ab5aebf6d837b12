"""Signing in and out: lockout after repeated failures, audit of every attempt,
logout by POST only, and anonymous visitors sent to the login page."""
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from paas import context, lockout
from paas.audit.models import AuditEvent
from paas.models import LoginThrottle

from .cache_down import unreachable_cache
from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


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


def attempts(action="auth.login.failed") -> int:
    """Failed attempts the audit trail accounts for (events carry a count)."""
    return sum(event.changes["after"]["attempts"] for event in AuditEvent.objects.filter(action=action))


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
    assert not AuditEvent.objects.filter(action="auth.login").exists()
    lock = AuditEvent.objects.get(action="auth.lockout")
    assert (lock.target_type, lock.target_label, lock.outcome) == ("auth.user", "alice", "denied")
    assert lock.reason == "3 failed sign-ins for this account within 15 minutes"
    # The other attempts are summarised once the window has passed: all four are accounted for.
    lockout.flush(now=timezone.now() + timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS))
    assert attempts() == 4
    summary = AuditEvent.objects.filter(action="auth.login.failed").first()
    assert summary.changes["after"]["reasons"] == [
        {"reason": "wrong username or password", "count": 2},
        {"reason": "refused: account locked after repeated failures", "count": 1}]


def test_account_lock_holds_from_every_address(alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for addr in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        sign_in(Client(REMOTE_ADDR=addr), "alice", "wrong")
    assert sign_in(Client(REMOTE_ADDR="10.0.0.4"), "alice", PASSWORD).status_code == 429


def test_locked_address_refuses_failed_guesses_but_never_a_valid_password(alice, settings):
    # An attacker and a valid user behind one NAT address / load balancer.
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    UserFactory(username="bob")
    nat = "10.0.0.66"
    for name in ("carol", "dave", "erin"):  # spraying: a different account each time
        sign_in(Client(REMOTE_ADDR=nat), name, "guess")
    assert AuditEvent.objects.filter(action="auth.lockout", target_type="address", target_id=nat).exists()
    assert sign_in(Client(REMOTE_ADDR=nat), "frank", "guess").status_code == 429  # guessing is refused
    assert sign_in(Client(REMOTE_ADDR="10.0.0.7"), "frank", "guess").status_code == 200  # elsewhere: not locked
    bob = Client(REMOTE_ADDR=nat)
    assert sign_in(bob, "bob", PASSWORD).status_code == 302  # the valid user is not locked out
    assert "_auth_user_id" in bob.session
    # The account lock still protects each account from the locked address.
    for _ in range(3):
        assert sign_in(Client(REMOTE_ADDR=nat), "alice", "guess").status_code == 429
    assert sign_in(Client(REMOTE_ADDR="10.0.0.8"), "alice", PASSWORD).status_code == 429


def test_300_failed_attempts_write_a_bounded_number_of_audit_rows(alice, settings):
    attacker = Client(REMOTE_ADDR="198.51.100.9")
    for _ in range(300):
        sign_in(attacker, "alice", "guess")
    # First failure, account lock, address lock; the rest waits for the window to pass.
    assert AuditEvent.objects.count() == 3
    assert lockout.flush(now=timezone.now() + timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)) == 1
    assert AuditEvent.objects.count() == 4
    assert attempts() == 300
    assert set(AuditEvent.objects.values_list("source_ip", flat=True)) == {"198.51.100.9"}


def test_password_spraying_is_summarised_per_address(db, settings):
    # 300 different accounts from one address: still a handful of rows, naming the accounts.
    with context.bind(source_ip="198.51.100.10"):
        for index in range(300):
            lockout.login_failed(username=f"user{index}", address="198.51.100.10", reason="wrong username or password",
                                 via="portal")
    assert AuditEvent.objects.count() == 2  # first failure, address lock
    lockout.flush(now=timezone.now() + timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS))
    summary = AuditEvent.objects.filter(action="auth.login.failed").first()
    after = summary.changes["after"]
    assert (after["attempts"], len(after["accounts"]), after["other_accounts"]) == (299, lockout.SUMMARY_ACCOUNTS, 279)
    assert summary.source_ip == "198.51.100.10" and attempts() == 300


def test_a_failure_after_the_window_writes_the_summary_and_opens_a_new_window(alice, settings, monkeypatch):
    client = Client(REMOTE_ADDR="10.0.0.9")
    for _ in range(3):
        sign_in(client, "nobody", "guess")
    assert attempts() == 1
    later = timezone.now() + timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS + 1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    sign_in(client, "nobody", "guess")
    counts = list(AuditEvent.objects.order_by("id").values_list("changes__after__attempts", flat=True))
    assert counts == [1, 2, 1]  # first, summary of the two others, first of the new window


def test_flush_drops_counters_nothing_refers_to(alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 1
    settings.LOGIN_LOCKOUT_SECONDS = 4 * settings.LOGIN_FAILURE_WINDOW_SECONDS
    sign_in(Client(REMOTE_ADDR="10.0.0.10"), "alice", "wrong")
    assert LoginThrottle.objects.count() == 2
    lockout.flush(now=timezone.now() + timedelta(seconds=2 * settings.LOGIN_FAILURE_WINDOW_SECONDS))
    assert list(LoginThrottle.objects.values_list("kind", flat=True)) == ["account"]  # still locked
    lockout.flush(now=timezone.now() + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS + 1))
    assert LoginThrottle.objects.count() == 0


def test_a_locked_account_cannot_authenticate_by_any_other_path(alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        sign_in(Client(), "alice", "wrong")
    assert not Client().login(username="alice", password=PASSWORD)  # the authentication backend refuses


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


@pytest.fixture
def cache_down():
    with unreachable_cache():
        yield


def test_sign_in_and_lockout_work_without_the_cache(alice, settings, cache_down):
    settings.LOGIN_FAILURE_LIMIT = 3
    client = Client(REMOTE_ADDR="10.0.0.20")
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    for expected in (200, 200, 429):
        assert sign_in(Client(REMOTE_ADDR="10.0.0.21"), "alice", "wrong").status_code == expected
    assert sign_in(Client(REMOTE_ADDR="10.0.0.22"), "alice", PASSWORD).status_code == 429
    assert AuditEvent.objects.filter(action="auth.lockout", target_label="alice").count() == 1
    assert LoginThrottle.objects.get(kind="account", key="alice").locked_until > timezone.now()
