"""On PostgreSQL the database itself refuses to rewrite audit history (migration 0002)."""
import os

import pytest
from django.db import DatabaseError, connection, transaction

from paas.actors import Actor
from paas.audit.models import AuditEvent
from paas.audit.services import audit_record

pytestmark = [pytest.mark.services, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _postgresql_only(db):
    if connection.vendor == "postgresql":
        return
    if os.environ.get("DATABASE_URL"):
        pytest.fail(f"DATABASE_URL is set but the database is {connection.vendor}, not PostgreSQL.")
    pytest.skip("needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def event(tenant):
    return audit_record(actor=Actor.for_system("tests"), action="tenant.update", target=tenant,
                        before={"name": "Acme"}, after={"name": "Acme Payments"})


def test_update_is_rejected_by_the_database(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE audit_auditevent SET target_label = 'forged' WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(outcome="denied")
    assert AuditEvent.objects.get(pk=event.pk).target_label == event.target_label


def test_delete_is_rejected_by_the_database(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_inserts_still_work_after_a_refused_rewrite(event):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.all().delete()
    later = audit_record(actor=Actor.for_system("tests"), action="platform.ping")
    assert later.prev_hash == event.hash
