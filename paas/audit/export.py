"""Streamed exports of the audit trail (CSV and JSON).

Rows are read with `.iterator(chunk_size=2000)` and written out as they come, so
memory stays flat whether ten or a million rows match. Secrets were redacted when
the rows were written; nothing here needs to know about them.

Rows go out in chain order (ascending id) with prev_hash and hash, so an exported
range can be checked link by link outside the portal.
"""
import csv
import datetime
import json

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.utils import timezone

from paas.actors import Actor

from .services import audit_record

FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
FIELDS = (
    "id", "created_at", "actor_type", "actor_id", "actor_label", "user_id", "tenant_id", "tenant_slug",
    "action", "target_type", "target_id", "target_label", "outcome", "reason", "request_id", "source_ip",
    "user_agent", "changes", "prev_hash", "hash",
)
CHUNK_SIZE = 2000
_FLUSH_BYTES = 64 * 1024  # one HTTP chunk per ~64 KiB instead of one per row
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def event_record(event) -> dict:
    record = {name: getattr(event, name) for name in FIELDS}
    record["created_at"] = event.created_at.astimezone(datetime.UTC).isoformat(timespec="microseconds")
    return record


def _rows(queryset):
    return queryset.order_by("id").iterator(chunk_size=CHUNK_SIZE)


def _batched(pieces):
    buffer, size = [], 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= _FLUSH_BYTES:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)


class _Line:
    """A write-only file for csv.writer: hands back the line just written."""

    def write(self, value):
        return value


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        # Spreadsheets run cells starting with = + - @ as formulas (CSV injection);
        # labels are user-controlled, so such cells are quoted with a leading '.
        return "'" + value
    return value


def stream_csv(queryset):
    """Yield the CSV text (header first) of every event in the queryset."""
    writer = csv.writer(_Line())

    def pieces():
        yield writer.writerow(FIELDS)
        for event in _rows(queryset):
            record = event_record(event)
            yield writer.writerow([_csv_cell(record[name]) for name in FIELDS])

    return _batched(pieces())


def stream_json(queryset):
    """Yield a JSON array of every event, one object per line, valid however many rows."""

    def pieces():
        yield "["
        separator = "\n"
        for event in _rows(queryset):
            yield separator + json.dumps(event_record(event), ensure_ascii=False, default=str)
            separator = ",\n"
        yield "\n]\n"

    return _batched(pieces())


STREAMERS = {"csv": stream_csv, "json": stream_json}


def record_export(*, actor: Actor, fmt: str, filters: dict, tenant=None):
    """Exports are audited themselves, before the first byte leaves."""
    return audit_record(actor=actor, action="audit.export", tenant=tenant,
                        after={"format": fmt, "filters": filters})


async def _async_chunks(chunks, per_hop: int = 16):
    # Under ASGI, Django would list() a synchronous iterator before sending it
    # (the whole export in memory); pull a few chunks per thread hop instead.
    # thread_sensitive keeps every hop on the request's thread and DB connection.
    def take():
        batch = []
        for chunk in chunks:
            batch.append(chunk)
            if len(batch) >= per_hop:
                break
        return batch

    while batch := await sync_to_async(take, thread_sensitive=True)():
        for chunk in batch:
            yield chunk


def export_filename(fmt: str) -> str:
    return f"audit-events-{timezone.now().astimezone(datetime.UTC):%Y%m%dT%H%M%SZ}.{fmt}"


def streaming_response(request, queryset, fmt: str) -> StreamingHttpResponse:
    chunks = STREAMERS[fmt](queryset)
    django_request = getattr(request, "_request", request)
    if isinstance(django_request, ASGIRequest):
        chunks = _async_chunks(chunks)
    response = StreamingHttpResponse(chunks, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{export_filename(fmt)}"'
    response["Cache-Control"] = "no-store"
    return response
