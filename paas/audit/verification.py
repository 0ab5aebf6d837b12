"""Holding the audit chain to its signed checkpoints (used by `audit_verify`).

The chain shows an edited or removed row in the middle. Only the checkpoints show
what the chain cannot: newest rows deleted, every row deleted, a row edited with
every later hash recomputed. A checkpoint counts only if its signature is valid;
the sink's copy is the authority, the database's copies are compared with it.
"""
from collections import defaultdict
from dataclasses import dataclass, field

from .chain import GENESIS_HASH, compute_hash
from .checkpoints import signature_valid
from .signing import SigningKey


def describe(record: dict) -> str:
    return (f"checkpoint of {record.get('created_at')} ({record.get('event_count')} events up to "
            f"event #{record.get('last_event_id')}, hash {str(record.get('last_hash'))[:12]}…)")


@dataclass
class Report:
    count: int = 0
    head: str = GENESIS_HASH
    last_id: int = 0
    chain_break: tuple | None = None  # (event, problem)
    problems: list[str] = field(default_factory=list)
    checkpoints_checked: int = 0
    newest: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.chain_break is None and not self.problems


def _key(record: dict) -> str:
    return str(record.get("signature", ""))


def trusted_checkpoints(report: Report, key: SigningKey, sink_records: list[dict] | None,
                        sink_name: str, db_records: list[dict]) -> list[dict]:
    """Checkpoints with a valid signature; forged ones and copies missing on either side are problems."""
    valid_sink, valid_db = {}, {}
    for source, records, valid in ((sink_name, sink_records or [], valid_sink), ("the database", db_records, valid_db)):
        for record in records:
            if signature_valid(record, key):
                valid[_key(record)] = record
            else:
                report.problems.append(f"FORGED: {describe(record)} in {source} has no valid signature "
                                       f"(forged, altered, or signed with another key)")
    if sink_records is None:
        report.notes.append(f"{sink_name} cannot be read back: database copies only (pass --checkpoints FILE)")
    else:
        for signature, record in valid_sink.items():
            if signature not in valid_db:
                report.problems.append(f"MISSING: {describe(record)} is in {sink_name} but was removed "
                                       f"from the database")
        for signature, record in valid_db.items():
            if signature not in valid_sink:
                report.problems.append(f"MISSING: {describe(record)} is in the database but not in "
                                       f"{sink_name} (the outside copy was lost or replaced)")
    merged = {**valid_db, **valid_sink}
    return sorted(merged.values(), key=lambda r: (int(r["last_event_id"]), int(r["event_count"])))


def walk(report: Report, events, checkpoints: list[dict]) -> None:
    """Stream the id-ordered events once: chain links, then every checkpoint at its event."""
    at = defaultdict(list)
    for record in checkpoints:
        if int(record["last_event_id"]) == 0:  # a checkpoint of the empty trail
            report.checkpoints_checked += 1
            if int(record["event_count"]) != 0 or record["last_hash"] != GENESIS_HASH:
                report.problems.append(f"FORGED: {describe(record)} claims events but names no event")
            continue
        at[int(record["last_event_id"])].append(record)
    matched_up_to = 0  # last event id whose checkpoint still matched, to narrow a rewrite down
    expected_prev = GENESIS_HASH
    for event in events:
        if report.chain_break is None:
            if event.prev_hash != expected_prev:
                report.chain_break = (event, "previous-hash link does not match the row before it "
                                             "(a row was removed or reordered)")
            elif compute_hash(event.prev_hash, event) != event.hash:
                report.chain_break = (event, "content does not match its hash (the row was edited)")
        expected_prev = event.hash
        report.count += 1
        report.head, report.last_id = event.hash, event.pk
        for record in at.pop(event.pk, ()):
            report.checkpoints_checked += 1
            if record["last_hash"] != event.hash:
                report.problems.append(
                    f"REWRITTEN: event #{event.pk} no longer has the hash its {describe(record)} signed: "
                    f"events #{matched_up_to + 1}..#{event.pk} were edited and the chain recomputed")
            elif int(record["event_count"]) != report.count:
                report.problems.append(
                    f"REWRITTEN: event #{event.pk} is event number {report.count}, its {describe(record)} "
                    f"signed number {record['event_count']}: rows up to it were removed or inserted")
            else:
                matched_up_to = event.pk
    for last_id in sorted(at):
        for record in at[last_id]:
            report.checkpoints_checked += 1
            if last_id > report.last_id:
                what = ("every event was deleted" if report.count == 0 else
                        f"the trail ends at event #{report.last_id} ({report.count} events): "
                        f"events #{report.last_id + 1}..#{last_id} or more were deleted")
            else:
                what = f"event #{last_id} is missing from the trail"
            report.problems.append(f"MISSING: {describe(record)}, but {what}")
    if checkpoints:
        report.newest = checkpoints[-1]
