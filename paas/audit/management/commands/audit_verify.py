"""Walk the whole audit hash chain and hold it to every signed checkpoint.

Exit 0 with "OK: N events, chain intact, head <hash>" and a line about the
checkpoints, or exit 1 naming each problem: "BROKEN at event #<id> (<action> at
<time>): <problem>" for the chain, and "MISSING: ...", "REWRITTEN: ...",
"FORGED: ..." for what the checkpoints show (newest or all rows deleted, a row
edited with every later hash recomputed, checkpoints removed from the database,
a checkpoint with a bad signature). Rows are streamed in id order with
.iterator(), so memory stays flat on any size of trail.

The checkpoints come from the configured sink (the authority) and the database;
`--checkpoints FILE` reads JSON lines exported from elsewhere (e.g. syslog).
"""
import datetime
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from paas.audit.checkpoints import as_record
from paas.audit.models import AuditCheckpoint, AuditEvent
from paas.audit.signing import signing_key
from paas.audit.sinks import configured_sink, parse_lines
from paas.audit.verification import Report, trusted_checkpoints, walk


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and signed checkpoints (exit status 1 if tampered with)."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=2000, help="Rows fetched per round trip.")
        parser.add_argument("--checkpoints", metavar="FILE",
                            help="JSON lines of checkpoints to use as the outside copy instead of the sink.")

    def _outside_copy(self, path):
        if path:
            try:
                with Path(path).open(encoding="utf-8") as handle:
                    return parse_lines(handle), path
            except OSError as exc:
                raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
        sink = configured_sink()
        return (sink.read() if sink.readable else None), sink.description

    def handle(self, *args, chunk_size, checkpoints, **options):
        report = Report()
        sink_records, sink_name = self._outside_copy(checkpoints)
        db_records = [as_record(c) for c in AuditCheckpoint.objects.order_by("id")]
        trusted = trusted_checkpoints(report, signing_key(), sink_records, sink_name, db_records)
        rows = AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size)
        try:
            walk(report, rows, trusted)
        finally:
            rows.close()  # release the cursor now, not at interpreter exit after the DB is gone
        for note in report.notes:
            self.stdout.write(f"NOTE: {note}")
        if report.chain_break is not None:
            event, problem = report.chain_break
            when = event.created_at.astimezone(datetime.UTC).isoformat(timespec="seconds")
            self.stdout.write(f"BROKEN at event #{event.pk} ({event.action} at {when}): {problem}")
        for problem in report.problems:
            self.stdout.write(problem)
        if not report.ok:
            self.stdout.flush()
            sys.exit(1)
        self.stdout.write(f"OK: {report.count} events, chain intact, head {report.head}")
        if report.newest is None:
            self.stdout.write("NOTE: no signed checkpoint yet: deleting the newest rows would go unnoticed "
                              "(run audit_checkpoint)")
        else:
            self.stdout.write(f"Checkpoints: {report.checkpoints_checked} verified, the newest signed "
                              f"{report.newest['event_count']} events up to #{report.newest['last_event_id']}")
