"""Hash chain over audit rows: hash = sha256(prev_hash + canonical JSON of the row).

Changing any field of any row, deleting a row in the middle or reordering rows
breaks the chain at that row; `audit_verify` walks it.

The hash is computed before the row is saved and checked again after it has been
read back, possibly from another database: values are canonicalised so that what
a backend gives back (PostgreSQL inet/jsonb/timestamptz, SQLite text) hashes the
same as what was written.
"""
import datetime
import hashlib
import ipaddress
import json

GENESIS_HASH = "0" * 64

HASHED_FIELDS = (
    "created_at", "actor_type", "actor_id", "actor_label", "user_id", "tenant_id", "tenant_slug",
    "action", "target_type", "target_id", "target_label", "changes", "request_id", "source_ip",
    "user_agent", "outcome", "reason",
)


def canonical(values: dict) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _canonical_json(value):
    # jsonb keeps numbers as decimals: 1e16 comes back as 10000000000000000 (an int
    # to Python) and -0.0 as 0.0, so a whole float is hashed as the integer it equals.
    if isinstance(value, dict):
        return {str(k): _canonical_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_json(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _canonical_ip(value) -> str | None:
    # The textual form of an address differs between Python versions, Django's
    # GenericIPAddressField cleaning and PostgreSQL inet (e.g. ::ffff:1.2.3.4 versus
    # ::ffff:102:304); the fully exploded form is the same everywhere.
    if not value:
        return None
    try:
        return ipaddress.ip_address(str(value).split("%", 1)[0]).exploded
    except ValueError:
        return str(value)


def _canonical_time(value: datetime.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC)
    return value.isoformat(timespec="microseconds")


def row_values(event) -> dict:
    values = {name: getattr(event, name) for name in HASHED_FIELDS}
    values["created_at"] = _canonical_time(event.created_at)
    values["source_ip"] = _canonical_ip(event.source_ip)
    values["changes"] = _canonical_json(event.changes)
    return values


def compute_hash(prev_hash: str, event) -> str:
    payload = prev_hash + canonical(row_values(event))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def verify(events):
    """Yield (event, problem) for the first broken row of an id-ordered iterable; nothing when intact."""
    expected_prev = GENESIS_HASH
    for event in events:
        if event.prev_hash != expected_prev:
            yield event, "previous-hash link does not match the row before it (a row was removed or reordered)"
            return
        if compute_hash(event.prev_hash, event) != event.hash:
            yield event, "content does not match its hash (the row was edited)"
            return
        expected_prev = event.hash
