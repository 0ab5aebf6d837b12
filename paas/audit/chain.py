"""Hash chain over audit rows: hash = sha256(prev_hash + canonical JSON of the row).

Changing any field of any row, deleting a row in the middle or reordering rows
breaks the chain at that row; `audit_verify` walks it.
"""
import hashlib
import json

GENESIS_HASH = "0" * 64

HASHED_FIELDS = (
    "created_at", "actor_type", "actor_id", "actor_label", "user_id", "tenant_id", "tenant_slug",
    "action", "target_type", "target_id", "target_label", "changes", "request_id", "source_ip",
    "user_agent", "outcome", "reason",
)


def canonical(values: dict) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_values(event) -> dict:
    values = {name: getattr(event, name) for name in HASHED_FIELDS}
    values["created_at"] = event.created_at.isoformat(timespec="microseconds")
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
