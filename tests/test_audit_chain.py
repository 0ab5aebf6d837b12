"""The hash chain and its verifier: intact chains pass, edited or removed rows are named."""
import io

import pytest
from django.core.management import call_command
from django.db import connection

from paas import context
from paas.actors import Actor
from paas.audit.models import AuditEvent
from paas.audit.services import audit_record

# Committed rows: on PostgreSQL with two roles the tampering runs as the owner on a
# connection of its own, which must see them.
pytestmark = pytest.mark.django_db(transaction=True)

SYSTEM = Actor.for_system("tests")


def verify() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("audit_verify", stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def tamper(owner_cursor):
    """tamper(sql, params): rewrite history behind the application's back, as a DBA with
    owner rights could (the owner may switch the append-only trigger off)."""

    def _tamper(sql: str, params):
        with owner_cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_rewrite")
            cursor.execute(sql, params)
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_no_rewrite")

    return _tamper


@pytest.fixture
def chain(tenant, other_tenant):
    """The tenants' creation already wrote events; add a few of every shape."""
    with context.bind(request_id="req-1", source_ip="192.0.2.7", user_agent="pytest"):
        audit_record(actor=SYSTEM, action="tenant.update", target=tenant,
                     before={"name": "Acme"}, after={"name": "Acme Payments"})
        audit_record(actor=SYSTEM, action="tenant.member.add", target=other_tenant, outcome="denied",
                     reason="missing permission manage_members")
        audit_record(actor=SYSTEM, action="platform.check", after={"ok": True, "ratio": 0.25})
    return list(AuditEvent.objects.order_by("id"))


def test_verify_passes_on_an_intact_chain(chain):
    assert len(chain) > 5
    code, out = verify()
    assert code == 0
    assert out.splitlines()[0] == f"OK: {len(chain)} events, chain intact, head {chain[-1].hash}"


def test_verify_on_an_empty_trail():
    code, out = verify()
    assert code == 0
    assert out.startswith("OK: 0 events, chain intact, head " + "0" * 64)


@pytest.mark.parametrize("column,value", [
    ("target_label", "Forged Corp"),
    ("actor_label", "someone-else"),
    ("outcome", "failed"),
    ("changes", '{"after": {"name": "Innocent"}}'),
])
def test_editing_an_old_row_is_detected_and_named(chain, column, value, tamper):
    victim = chain[3]
    tamper(f"UPDATE audit_auditevent SET {column} = %s WHERE id = %s", [value, victim.pk])  # noqa: S608
    code, out = verify()
    assert code == 1
    assert out.startswith(f"BROKEN at event #{victim.pk} ({victim.action} at ")
    assert "edited" in out


def test_editing_a_row_and_its_hash_breaks_the_next_link(chain, tamper):
    victim, following = chain[2], chain[3]
    tamper("UPDATE audit_auditevent SET hash = %s, target_label = %s WHERE id = %s",
           ["f" * 64, "Forged", victim.pk])
    code, out = verify()
    assert code == 1
    # The forged row itself no longer matches its content...
    assert f"#{victim.pk} " in out
    tamper("UPDATE audit_auditevent SET target_label = %s WHERE id = %s", [victim.target_label, victim.pk])
    # ...and even with consistent content, its new hash no longer links to the next row.
    code, out = verify()
    assert code == 1
    assert f"#{victim.pk} " in out or f"#{following.pk} " in out


def test_deleting_a_middle_row_is_detected_at_the_following_row(chain, tamper):
    victim, following = chain[4], chain[5]
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    code, out = verify()
    assert code == 1
    assert out.startswith(f"BROKEN at event #{following.pk} ({following.action} at ")
    assert "removed" in out


def test_deleting_the_first_row_is_detected(chain, tamper):
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [chain[0].pk])
    code, out = verify()
    assert code == 1
    assert f"#{chain[1].pk} " in out


def test_secrets_are_redacted_before_they_are_stored(tenant):
    event = audit_record(
        actor=SYSTEM, action="cluster.update", tenant=tenant,
        before={"name": "c1", "password": "hunter2-old", "kubeconfig": "apiVersion: v1 secret-kube"},
        after={"name": "c1", "password": "hunter2-new", "api_token": "paas_abc_secretvalue",
               "nested": {"client_key": "-----BEGIN KEY-----", "port": 6443}},
    )
    stored = AuditEvent.objects.get(pk=event.pk).changes
    assert stored["before"] == {"name": "c1", "password": "***", "kubeconfig": "***"}
    assert stored["after"]["password"] == "***"
    assert stored["after"]["api_token"] == "***"
    assert stored["after"]["nested"] == {"client_key": "***", "port": 6443}
    with connection.cursor() as cursor:
        cursor.execute("SELECT changes FROM audit_auditevent WHERE id = %s", [event.pk])
        raw = str(cursor.fetchone()[0])
    for secret in ("hunter2", "secret-kube", "secretvalue", "BEGIN KEY"):
        assert secret not in raw
    assert verify()[0] == 0


@pytest.mark.parametrize("source_ip", ["192.0.2.1", "2001:DB8::1", "::ffff:10.1.2.3", "fe80::1%eth0", None])
def test_hash_survives_the_round_trip_through_the_database(tenant, source_ip):
    """Values the database normalises (inet text, jsonb numbers) must hash the same after reading."""
    with context.bind(request_id="r" * 64, source_ip=source_ip, user_agent="agent/1.0 (ünïcode)"):
        audit_record(actor=SYSTEM, action="tenant.quota.update", target=tenant, reason="é" * 50,
                     before={"cpu": 1.0, "memory": 1e16, "ratio": 1.5e-7, "zero": -0.0, "list": [1, 2.5]},
                     after={"cpu": 2, "label": "日本", "when": None, "flag": False, "big": 2**62})
    code, out = verify()
    assert code == 0, out


def test_chain_links_every_row_to_the_one_before(chain):
    for previous, event in zip(chain, chain[1:], strict=False):
        assert event.prev_hash == previous.hash
    assert chain[0].prev_hash == "0" * 64
