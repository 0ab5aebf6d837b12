"""On PostgreSQL the database itself refuses to rewrite audit history.

Two layers: the run-time role (DATABASE_URL, when DATABASE_MIGRATE_URL names a
separate owner, as in CI) holds only SELECT and INSERT on the audit tables, so
UPDATE, DELETE and TRUNCATE fail on privileges; and triggers refuse UPDATE, DELETE
and TRUNCATE even for the owner, who would have to disable them on purpose.
"""
import os

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from paas.actors import Actor
from paas.audit.checkpoints import audit_checkpoint_create
from paas.audit.models import AuditCheckpoint, AuditEvent
from paas.audit.services import audit_record

pytestmark = [pytest.mark.services, pytest.mark.django_db, pytest.mark.usefixtures("postgresql_only")]

AUDIT_TABLES = ("audit_auditevent", "audit_auditcheckpoint")



@pytest.fixture
def two_roles():
    if settings.DATABASE_OWNER is None:
        if os.environ.get("PAAS_REQUIRE_SERVICES"):
            pytest.fail("CI must run as the run-time role: set DATABASE_MIGRATE_URL (see .ci/run).")
        pytest.skip("needs DATABASE_MIGRATE_URL (a separate owner role)")


@pytest.fixture
def event(tenant):
    return audit_record(actor=Actor.for_system("tests"), action="tenant.update", target=tenant,
                        before={"name": "Acme"}, after={"name": "Acme Payments"})


def _refused(sql, params=(), match=None):
    with pytest.raises(DatabaseError, match=match), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_update_is_rejected_by_the_database(event):
    _refused("UPDATE audit_auditevent SET target_label = 'forged' WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(outcome="denied")
    assert AuditEvent.objects.get(pk=event.pk).target_label == event.target_label


def test_delete_is_rejected_by_the_database(event):
    _refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_inserts_still_work_after_a_refused_rewrite(event):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.all().delete()
    later = audit_record(actor=Actor.for_system("tests"), action="platform.ping")
    assert later.prev_hash == event.hash


def test_runtime_role_may_only_insert_and_select_the_audit_tables(two_roles, event):
    """Refused on privileges (not only by the trigger, which an owner could disable)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == settings.DATABASE_RUNTIME["USER"] != settings.DATABASE_OWNER["USER"]
    checkpoint = audit_checkpoint_create(actor=Actor.for_system("tests"))  # INSERT works on both tables
    assert AuditEvent.objects.filter(pk=event.pk).exists() and AuditCheckpoint.objects.filter(pk=checkpoint.pk)
    for table in AUDIT_TABLES:
        _refused(f"UPDATE {table} SET id = id", match="permission denied")  # noqa: S608
        _refused(f"DELETE FROM {table}", match="permission denied")  # noqa: S608
        _refused(f"TRUNCATE {table}", match="permission denied")
        _refused(f"ALTER TABLE {table} DISABLE TRIGGER ALL", match="must be owner")
    with connection.cursor() as cursor:
        cursor.execute("SELECT privilege_type FROM information_schema.role_table_grants "
                       "WHERE grantee = current_user AND table_name = 'audit_auditevent' ORDER BY 1")
        assert [row[0] for row in cursor.fetchall()] == ["INSERT", "SELECT"]
        # ... while the rest of the schema is ordinary read-write for it.
        cursor.execute("SELECT has_table_privilege('tenants_tenant', 'UPDATE, DELETE')")
        assert cursor.fetchone()[0] is True


@pytest.mark.django_db(transaction=True)  # nothing uncommitted for the owner's TRUNCATE to wait behind
def test_truncate_is_blocked_by_a_trigger_even_for_the_owner(owner_cursor, event):
    import psycopg2

    audit_checkpoint_create(actor=Actor.for_system("tests"))  # a row for the row-level trigger to refuse

    def refused(sql, match):
        with owner_cursor() as cursor, pytest.raises((DatabaseError, psycopg2.Error), match=match):
            if settings.DATABASE_OWNER is None:  # the test's own connection: keep its transaction usable
                with transaction.atomic():
                    cursor.execute(sql)
            else:
                cursor.execute(sql)

    for table in AUDIT_TABLES:
        refused(f"TRUNCATE {table}", f"{table} is append-only: TRUNCATE is not allowed")
    refused("DELETE FROM audit_auditcheckpoint", "audit_auditcheckpoint is append-only: DELETE is not allowed")
    refused("DELETE FROM audit_auditevent", "audit_auditevent is append-only: DELETE is not allowed")
    refused("UPDATE audit_auditcheckpoint SET id = id", "append-only: UPDATE is not allowed")
    assert AuditEvent.objects.filter(pk=event.pk).exists()
