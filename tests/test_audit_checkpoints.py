"""Signed checkpoints catch what the unkeyed chain cannot: newest or all rows deleted,
a row edited with every later hash recomputed, checkpoints removed or forged."""
import io
import json
import os
import stat

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from paas.actors import Actor
from paas.audit import signing
from paas.audit.chain import compute_hash
from paas.audit.checkpoints import audit_checkpoint_create
from paas.audit.models import AuditCheckpoint, AuditEvent
from paas.audit.services import audit_record
from paas.audit.sinks import ObjectStoreSink, SyslogSink, sink_from_spec

pytestmark = pytest.mark.django_db(transaction=True)

SYSTEM = Actor.for_system("tests")
TRIGGERS = {"audit_auditevent": "audit_event_no_rewrite", "audit_auditcheckpoint": "audit_checkpoint_no_rewrite"}


def verify(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("audit_verify", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def tamper(owner_cursor):
    """tamper(table, sql, params...): rewrite rows as the owner, trigger switched off."""

    def _tamper(table, *statements):
        with owner_cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {TRIGGERS[table]}")
            for sql, params in statements:
                cursor.execute(sql, params)
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {TRIGGERS[table]}")

    return _tamper


def record(n: int, start: int = 0):
    for i in range(start, start + n):
        audit_record(actor=SYSTEM, action="platform.check", after={"i": i})


@pytest.fixture
def checkpointed(_audit_checkpoint_sink):
    """Ten events, a checkpoint, five more, a second checkpoint."""
    record(10)
    first = audit_checkpoint_create(actor=SYSTEM)
    record(5, start=10)
    second = audit_checkpoint_create(actor=SYSTEM)
    return first, second, list(AuditEvent.objects.order_by("id"))


def sink_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_checkpoint_is_signed_and_written_to_the_database_and_the_sink(checkpointed, _audit_checkpoint_sink):
    first, second, events = checkpointed
    assert (second.event_count, second.last_event_id, second.last_hash) == (15, events[-1].pk, events[-1].hash)
    lines = sink_lines(_audit_checkpoint_sink)
    assert [line["signature"] for line in lines] == [first.signature, second.signature]
    assert lines[1]["last_hash"] == events[-1].hash and lines[1]["event_count"] == 15
    # Nothing moved: no new checkpoint, in the database or the sink.
    assert audit_checkpoint_create(actor=SYSTEM) is None
    assert AuditCheckpoint.objects.count() == 2 and len(sink_lines(_audit_checkpoint_sink)) == 2
    code, out = verify()
    assert code == 0, out
    assert "Checkpoints: 2 verified, the newest signed 15 events" in out


def test_command_and_beat_entry(settings, _audit_checkpoint_sink):
    record(3)
    out = io.StringIO()
    call_command("audit_checkpoint", stdout=out)
    assert out.getvalue().startswith("Checkpoint #") and "3 events" in out.getvalue()
    out = io.StringIO()
    call_command("audit_checkpoint", stdout=out)
    assert out.getvalue().startswith("Unchanged")
    entry = settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert entry["task"] == "audit.checkpoint" and entry["schedule"].total_seconds() == 60
    from paas.audit.tasks import checkpoint

    record(1, start=3)
    assert checkpoint.apply().get() == AuditCheckpoint.objects.order_by("-id").first().pk


def test_deleting_the_newest_rows_is_detected(checkpointed, tamper):
    first, second, events = checkpointed
    tamper("audit_auditevent", ("DELETE FROM audit_auditevent WHERE id > %s", [events[11].pk]))
    code, out = verify()
    assert code == 1, out
    assert "BROKEN" not in out  # the chain that is left is intact: only the checkpoint shows it
    assert f"MISSING: checkpoint of {second.created_at.isoformat(timespec='microseconds')}" in out
    assert f"the trail ends at event #{events[11].pk} (12 events): events #{events[11].pk + 1}..#{events[-1].pk}" in out


def test_deleting_every_row_is_detected(checkpointed, tamper):
    tamper("audit_auditevent", ("DELETE FROM audit_auditevent", []))
    code, out = verify()
    assert code == 1, out
    assert out.count("every event was deleted") == 2  # both checkpoints


def test_editing_a_row_and_recomputing_every_later_hash_is_detected(checkpointed, tamper):
    first, second, events = checkpointed
    victim = events[12]
    victim.target_label = "Forged"
    prev = events[11].hash
    statements = []
    for event in events[12:]:
        new_hash = compute_hash(prev, event)
        statements.append(("UPDATE audit_auditevent SET target_label = %s, prev_hash = %s, hash = %s WHERE id = %s",
                           [event.target_label, prev, new_hash, event.pk]))
        prev = new_hash
    tamper("audit_auditevent", *statements)
    code, out = verify()
    assert code == 1, out
    assert "BROKEN" not in out  # a perfect re-chain: the unkeyed chain alone says nothing
    assert (f"REWRITTEN: event #{events[-1].pk} no longer has the hash its checkpoint" in out)
    # The first checkpoint still matches, which narrows the rewrite down.
    assert f"events #{first.last_event_id + 1}..#{events[-1].pk} were edited" in out


def test_checkpoints_removed_from_the_database_are_named(checkpointed, tamper):
    first, second, events = checkpointed
    tamper("audit_auditcheckpoint", ("DELETE FROM audit_auditcheckpoint WHERE id = %s", [second.pk]))
    code, out = verify()
    assert code == 1, out
    assert f"({second.event_count} events up to event #{second.last_event_id}" in out
    assert "is in file" in out and "removed from the database" in out


def test_attacker_rewrites_checkpoints_too_but_cannot_sign(checkpointed, tamper, _audit_checkpoint_sink):
    """Truncate the newest rows and lower the checkpoints to match: the signature fails."""
    first, second, events = checkpointed
    tamper("audit_auditevent", ("DELETE FROM audit_auditevent WHERE id > %s", [first.last_event_id]))
    tamper("audit_auditcheckpoint", ("UPDATE audit_auditcheckpoint SET event_count = %s, last_event_id = %s, "
                                     "last_hash = %s WHERE id = %s",
                                     [first.event_count, first.last_event_id, first.last_hash, second.pk]))
    code, out = verify()
    assert code == 1, out
    assert "FORGED:" in out and "in the database has no valid signature" in out
    assert "every event" not in out and f"events #{first.last_event_id + 1}..#{second.last_event_id}" in out


def test_a_checkpoint_signed_with_another_key_is_forged(checkpointed, settings, _audit_checkpoint_sink):
    settings.AUDIT_SIGNING_KEY = signing.generate_key_text()  # the attacker's own key
    record(1, start=99)
    audit_checkpoint_create(actor=SYSTEM)
    settings.AUDIT_SIGNING_KEY = "ed25519:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="
    code, out = verify()
    assert code == 1, out
    assert out.count("has no valid signature") == 2  # its database and sink copies


def test_a_sink_that_lost_a_checkpoint_is_reported(checkpointed, _audit_checkpoint_sink):
    first, second, events = checkpointed
    lines = _audit_checkpoint_sink.read_text().splitlines()
    _audit_checkpoint_sink.write_text(lines[0] + "\n")
    code, out = verify()
    assert code == 1
    assert "is in the database but not in file" in out


def test_verify_reads_an_exported_copy(checkpointed, tamper, tmp_path, settings):
    """With a sink that cannot be read back (syslog), the operator passes its exported lines."""
    first, second, events = checkpointed
    exported = tmp_path / "from-syslog.log"
    exported.write_text("".join(f"Nov 30 06:00:00 host paas: paas-audit-checkpoint {line}\n"
                                for line in _read(settings)))
    settings.AUDIT_CHECKPOINT_SINK = "syslog://127.0.0.1:9"
    tamper("audit_auditcheckpoint", ("DELETE FROM audit_auditcheckpoint", []))
    tamper("audit_auditevent", ("DELETE FROM audit_auditevent WHERE id > %s", [events[5].pk]))
    code, out = verify()
    assert code == 0 and "cannot be read back" in out  # the database alone was emptied of evidence
    code, out = verify("--checkpoints", str(exported))
    assert code == 1 and out.count("removed from the database") == 2 and "were deleted" in out


def _read(settings):
    return open(settings.AUDIT_CHECKPOINT_SINK[len("file:"):]).read().splitlines()


def test_sink_specs():
    assert isinstance(sink_from_spec("syslog://logs.example:5514"), SyslogSink)
    assert sink_from_spec("syslog://logs.example:5514").address == ("logs.example", 5514)
    with pytest.raises(ImproperlyConfigured, match="not an implementation"):
        sink_from_spec("paas.audit.sinks.ObjectStoreSink")
    with pytest.raises(ImproperlyConfigured):
        ObjectStoreSink()


def test_hmac_key_signs_and_verifies(settings, _audit_checkpoint_sink):
    settings.AUDIT_SIGNING_KEY = "hmac-sha256:" + "s" * 40
    record(2)
    checkpoint = audit_checkpoint_create(actor=SYSTEM)
    assert checkpoint.algorithm == "hmac-sha256"
    assert verify()[0] == 0
    settings.AUDIT_SIGNING_KEY = "hmac-sha256:" + "t" * 40
    assert verify()[0] == 1


def test_development_key_file_is_created_once_private(settings, tmp_path):
    settings.AUDIT_SIGNING_KEY = ""
    settings.AUDIT_SIGNING_KEY_FILE = str(tmp_path / "var" / "audit-signing.key")
    key = signing.signing_key()
    path = tmp_path / "var" / "audit-signing.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert key.algorithm == "ed25519"
    signing._load.cache_clear()
    assert signing.signing_key().key_id == key.key_id  # reused, not regenerated
    assert str(key.secret) not in path.read_text()


def test_bad_keys_are_refused():
    for text in ("secret", "ed25519:short", "hmac-sha256:short", "rsa:abc"):
        with pytest.raises(ImproperlyConfigured):
            signing.parse_key(text)


def test_a_checkpoint_counts_on_from_the_previous_genuine_one(checkpointed, tamper):
    """Rows deleted under an earlier checkpoint do not lower the count the next one signs."""
    first, second, events = checkpointed
    tamper("audit_auditevent", ("DELETE FROM audit_auditevent WHERE id = %s", [events[3].pk]))
    record(1, start=50)
    third = audit_checkpoint_create(actor=SYSTEM)
    assert third.event_count == 16  # 15 signed before + 1 new, not the 15 rows left
    code, out = verify()
    assert code == 1 and f"BROKEN at event #{events[4].pk}" in out
