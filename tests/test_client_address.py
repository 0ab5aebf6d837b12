"""The client address (lockout, throttling, audit source IP): X-Forwarded-For is
believed only from a TRUSTED_PROXIES address, and then read from the right."""
import pytest
from django.test import Client

from paas.audit.models import AuditEvent
from paas.context import client_ip
from paas.models import LoginThrottle

from .factories import PASSWORD, UserFactory


def meta(remote, xff=None):
    data = {"REMOTE_ADDR": remote}
    if xff is not None:
        data["HTTP_X_FORWARDED_FOR"] = xff
    return data


def test_without_trusted_proxies_x_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(meta("203.0.113.5", "1.2.3.4")) == "203.0.113.5"


@pytest.mark.parametrize("remote, xff, expected", [
    ("203.0.113.5", "1.2.3.4", "203.0.113.5"),  # not from a trusted proxy: spoofed, ignored
    ("10.0.0.2", "198.51.100.7", "198.51.100.7"),  # from the proxy: the client it saw
    ("10.0.0.2", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client's own XFF entry is ignored
    ("10.0.0.2", "198.51.100.7, 10.0.0.3", "198.51.100.7"),  # two trusted hops
    ("10.0.0.2", "10.0.0.4, 10.0.0.3", "10.0.0.4"),  # all trusted: the left-most
    ("10.0.0.2", "", "10.0.0.2"),  # no header: the proxy itself
    ("10.0.0.2", "not-an-ip, 10.0.0.3", "10.0.0.3"),  # garbage: the last vouched-for hop
    ("10.0.0.2", "198.51.100.7:5123", "198.51.100.7"),  # with a port
    ("10.0.0.2", "[2001:db8::1]:443", "2001:db8::1"),
    ("::ffff:10.0.0.2", "198.51.100.7", "198.51.100.7"),  # IPv4-mapped proxy address
    ("fd00::1", "2001:db8::9", "2001:db8::9"),  # an IPv6 trusted network
])
def test_trusted_proxy_chain(settings, remote, xff, expected):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24", "fd00::/64"]
    assert client_ip(meta(remote, xff)) == expected


def test_a_bad_trusted_proxies_setting_refuses_to_start(monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import paas.settings

    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1,proxy.example")
    with pytest.raises(ImproperlyConfigured, match="proxy.example"):
        importlib.reload(paas.settings)
    monkeypatch.delenv("TRUSTED_PROXIES")
    importlib.reload(paas.settings)


@pytest.mark.django_db
def test_a_spoofed_x_forwarded_for_neither_escapes_the_lockout_nor_reaches_the_audit(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    for index in range(3):  # a new forged address every time, straight to the portal
        Client(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"1.2.3.{index}").post(
            "/accounts/login/", {"username": f"user{index}", "password": "guess"})
    assert set(LoginThrottle.objects.filter(kind="address").values_list("key", flat=True)) == {"203.0.113.5"}
    assert set(AuditEvent.objects.values_list("source_ip", flat=True)) == {"203.0.113.5"}
    response = Client(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="1.2.3.99").post(
        "/accounts/login/", {"username": "user9", "password": "guess"})
    assert response.status_code == 429


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_client_is_counted_and_audited_by_its_own_address(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    UserFactory(username="bob")
    via_proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for index in range(3):
        Client(**via_proxy, HTTP_X_FORWARDED_FOR="198.51.100.66").post(
            "/accounts/login/", {"username": f"user{index}", "password": "guess"})
    # The attacker's address is locked; a different client behind the same proxy is not.
    assert Client(**via_proxy, HTTP_X_FORWARDED_FOR="198.51.100.66").post(
        "/accounts/login/", {"username": "x", "password": "guess"}).status_code == 429
    assert Client(**via_proxy, HTTP_X_FORWARDED_FOR="198.51.100.7").post(
        "/accounts/login/", {"username": "x", "password": "guess"}).status_code == 200
    Client(**via_proxy, HTTP_X_FORWARDED_FOR="198.51.100.7").post(
        "/accounts/login/", {"username": "bob", "password": PASSWORD})
    login = AuditEvent.objects.get(action="auth.login")
    assert login.source_ip == "198.51.100.7"
    assert "10.0.0.2" not in set(AuditEvent.objects.values_list("source_ip", flat=True))


@pytest.mark.django_db
def test_behind_a_local_proxy_metrics_are_not_open_as_loopback(settings):
    # A proxy on the same host makes every request arrive from 127.0.0.1.
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert Client(HTTP_X_FORWARDED_FOR="203.0.113.5").get("/metrics").status_code == 403
    assert Client(HTTP_X_FORWARDED_FOR="127.0.0.1").get("/metrics").status_code == 200
    settings.TRUSTED_PROXIES = []
    assert Client(HTTP_X_FORWARDED_FOR="203.0.113.5").get("/metrics").status_code == 200  # no proxy: loopback


def test_api_rate_limits_key_anonymous_clients_on_the_real_address(settings, rf):
    from paas.api.throttles import AnonRateThrottle

    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    spoofed = rf.get("/api/v1/me/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="1.2.3.4")
    proxied = rf.get("/api/v1/me/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    assert AnonRateThrottle().get_ident(spoofed) == "203.0.113.5"  # DRF's own class says "1.2.3.4"
    assert AnonRateThrottle().get_ident(proxied) == "198.51.100.7"
