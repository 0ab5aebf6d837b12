"""Signed checkpoints of the audit chain (as CloudTrail digest files and Certificate
Transparency signed tree heads).

The chain alone cannot show that its newest rows, or all of them, were deleted, nor
that a row was edited and every later hash recomputed: it is unkeyed. A checkpoint
records the number of events, the last event's id and its hash, signed with a key
that is not in the database, and is written to the database and to a sink outside
it. `audit_verify` then holds the chain to every checkpoint.
"""
import datetime
import json

from django.db import transaction
from django.utils import timezone

from paas.actors import Actor

from .chain import GENESIS_HASH
from .models import AuditCheckpoint, AuditEvent
from .signing import SigningKey, signing_key
from .sinks import configured_sink

FORMAT_VERSION = 1
SIGNED_FIELDS = ("created_at", "event_count", "last_event_id", "last_hash", "algorithm", "key_id")


def signed_message(record: dict) -> bytes:
    payload = {"v": FORMAT_VERSION, **{name: record.get(name) for name in SIGNED_FIELDS}}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


def as_record(checkpoint: AuditCheckpoint) -> dict:
    """The sink's JSON form of a checkpoint (also used to compare DB rows with it)."""
    created = checkpoint.created_at.astimezone(datetime.UTC).isoformat(timespec="microseconds")
    return {"v": FORMAT_VERSION, "created_at": created, "event_count": checkpoint.event_count,
            "last_event_id": checkpoint.last_event_id, "last_hash": checkpoint.last_hash,
            "algorithm": checkpoint.algorithm, "key_id": checkpoint.key_id, "signature": checkpoint.signature}


def signature_valid(record: dict, key: SigningKey) -> bool:
    if record.get("algorithm") != key.algorithm or record.get("key_id") != key.key_id:
        return False
    return key.verify(signed_message(record), str(record.get("signature", "")))


def _head(previous: AuditCheckpoint | None, key: SigningKey) -> tuple[int, int, str]:
    """(event count, last id, last hash) of the committed trail.

    Appends take the chain lock before choosing their id and hold it to commit,
    so ids commit in order: every row up to the newest committed one is visible.
    Counting starts from the previous checkpoint when it is genuine and still
    matches its row, so a minute's checkpoint costs the rows since, not the trail.
    """
    last = AuditEvent.objects.order_by("-id").values_list("id", "hash").first()
    if last is None:
        return 0, 0, GENESIS_HASH
    base_count, base_id = 0, 0
    if (previous is not None and 0 < previous.last_event_id <= last[0]
            and signature_valid(as_record(previous), key)
            and AuditEvent.objects.filter(pk=previous.last_event_id, hash=previous.last_hash).exists()):
        base_count, base_id = previous.event_count, previous.last_event_id
    return base_count + AuditEvent.objects.filter(id__gt=base_id, id__lte=last[0]).count(), last[0], last[1]


def audit_checkpoint_create(*, actor: Actor, force: bool = False) -> AuditCheckpoint | None:
    """Sign the current head and record it in the database and the sink.

    Nothing is written when the newest checkpoint already covers the same head
    (unless `force`): a quiet trail does not need a row a minute. Not itself an
    audit event, or every checkpoint would move the head it describes.
    """
    key = signing_key()
    sink = configured_sink()
    newest = AuditCheckpoint.objects.order_by("-id").first()
    count, last_id, last_hash = _head(newest, key)
    if not force and newest is not None and (newest.event_count, newest.last_event_id, newest.last_hash) == (
            count, last_id, last_hash):
        return None
    checkpoint = AuditCheckpoint(created_at=timezone.now(), event_count=count, last_event_id=last_id,
                                 last_hash=last_hash, algorithm=key.algorithm, key_id=key.key_id)
    checkpoint.signature = key.sign(signed_message(as_record(checkpoint)))
    with transaction.atomic():
        checkpoint.save(force_insert=True)
        # Inside the transaction: if the sink refuses, the database copy is not kept either,
        # so a database checkpoint always has its outside copy.
        sink.append(as_record(checkpoint))
    return checkpoint
