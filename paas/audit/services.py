"""Writing audit events. Services call `audit_record` inside their own transaction,
so the event commits or rolls back together with the change it describes."""
import ipaddress
import json

from django.db import connection, transaction
from django.utils import timezone

from paas import context
from paas.actors import Actor

from .chain import GENESIS_HASH, compute_hash
from .models import AuditEvent
from .redaction import redact
from .refusals import note_denied

# Any constant works; it only has to be the same in every process.
_CHAIN_LOCK_KEY = 7_310_001


def _lock_chain():
    """Serialise appends so every row links to the one before it.

    PostgreSQL: a transaction-scoped advisory lock (released at commit/rollback).
    SQLite: writers are already serialised (transaction_mode=IMMEDIATE).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


def _jsonable(value):
    # Round-trip through JSON so the hash is computed over exactly what the
    # JSONField will give back when the row is read again.
    return json.loads(json.dumps(value, default=str))


def _normalise_ip(value: str | None) -> str | None:
    # A zone index (fe80::1%eth0) is meaningless off this host and PostgreSQL inet rejects it.
    try:
        return str(ipaddress.ip_address(value.split("%", 1)[0])) if value else None
    except ValueError:
        return None


def describe(obj) -> tuple[str, str, str]:
    """(type, id, label) of a target object, or of a (type, id, label) tuple."""
    if obj is None:
        return "", "", ""
    if isinstance(obj, tuple):
        kind, pk, label = obj
        return str(kind), str(pk), str(label)[:300]
    return obj._meta.label_lower, str(obj.pk or ""), str(obj)[:300]


def tenant_of(obj):
    """The tenant an object belongs to (the object itself for a Tenant)."""
    from tenants.models import Tenant

    if obj is None or isinstance(obj, tuple):
        return None
    if isinstance(obj, Tenant):
        return obj
    return getattr(obj, "tenant", None)


def audit_record(
    *,
    actor: Actor,
    action: str,
    target=None,
    tenant=None,
    before: dict | None = None,
    after: dict | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    reason: str = "",
) -> AuditEvent:
    ctx = context.current()
    tenant = tenant if tenant is not None else tenant_of(target)
    target_type, target_id, target_label = describe(target)
    changes = {}
    if before is not None:
        changes["before"] = redact(before)
    if after is not None:
        changes["after"] = redact(after)
    event = AuditEvent(
        created_at=timezone.now(),
        actor_type=actor.kind,
        actor_id=actor.identifier,
        actor_label=actor.label[:200],
        user_id=actor.user.pk if actor.user is not None else None,
        tenant_id=tenant.pk if tenant is not None else None,
        tenant_slug=tenant.slug if tenant is not None else "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        changes=_jsonable(changes),
        request_id=ctx.request_id,
        source_ip=_normalise_ip(ctx.source_ip),
        user_agent=ctx.user_agent,
        outcome=outcome,
        reason=reason[:2000],
    )
    with transaction.atomic():
        _lock_chain()
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        event.prev_hash = last or GENESIS_HASH
        event.hash = compute_hash(event.prev_hash, event)
        event.save(force_insert=True)
    if outcome == AuditEvent.Outcome.DENIED:
        note_denied()
    return event


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    """Keep only the fields that changed, for compact before/after records."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}
