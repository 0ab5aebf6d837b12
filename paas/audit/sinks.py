"""Where checkpoints are copied outside the database (settings.AUDIT_CHECKPOINT_SINK).

- `file:<path>` (default `file:var/audit-checkpoints.jsonl`): one JSON object per
  line, opened O_APPEND and fsynced. Put it on another host's mount or make it
  append-only (`chattr +a`) so the database's owner cannot rewrite it too.
- `syslog` or `syslog://host:port`: one line per checkpoint through the syslog
  protocol (local socket, or UDP to a collector). Syslog cannot be read back: give
  `audit_verify --checkpoints FILE` the lines exported from the log archive.
- a dotted path to a class implementing `CheckpointSink` (e.g. an object store
  with WORM retention, as CloudTrail digest files use). `ObjectStoreSink` below is
  only the shape of one: it is not implemented and says so.

The sink's copy is the authority: `audit_verify` trusts a checkpoint because its
signature is valid, and looks for it in the sink first.
"""
import json
import logging
import logging.handlers
import os
import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

PREFIX = "paas-audit-checkpoint "


def dumps(record: dict) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def parse_lines(lines: Iterable[str]) -> list[dict]:
    """Checkpoint records from JSON lines, also when each carries a syslog prefix."""
    records = []
    for line in lines:
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(record, dict) and "signature" in record:
            records.append(record)
    return records


class CheckpointSink:
    """Receives every checkpoint; `readable` sinks also give them back to `audit_verify`."""

    readable = False
    description = "sink"

    def append(self, record: dict) -> None:
        raise NotImplementedError

    def read(self) -> list[dict]:
        raise NotImplementedError(f"{self.description} cannot be read back; pass --checkpoints FILE")


class FileSink(CheckpointSink):
    readable = True

    def __init__(self, path: str):
        self.path = Path(path)
        self.description = f"file {self.path}"

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (dumps(record) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as handle:
            return parse_lines(handle)


class SyslogSink(CheckpointSink):
    def __init__(self, address):
        self.address = address
        self.description = f"syslog {address}"

    def append(self, record: dict) -> None:
        handler = logging.handlers.SysLogHandler(
            address=self.address, facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV,
            socktype=socket.SOCK_DGRAM if isinstance(self.address, tuple) else None)
        try:
            handler.emit(logging.LogRecord("paas.audit", logging.INFO, __file__, 0, PREFIX + dumps(record),
                                           None, None))
        finally:
            handler.close()


class ObjectStoreSink(CheckpointSink):
    """Not implemented. An object store with write-once retention (S3 Object Lock,
    GCS retention policy) is the strongest sink; subclass CheckpointSink with
    `append` putting one object per checkpoint and `read` listing them, and name
    your class in AUDIT_CHECKPOINT_SINK."""

    def __init__(self, *args, **kwargs):
        raise ImproperlyConfigured(
            "paas.audit.sinks.ObjectStoreSink is a placeholder, not an implementation: write a "
            "CheckpointSink subclass for your object store, or use the file or syslog sink.")


def sink_from_spec(spec: str) -> CheckpointSink:
    if spec.startswith("file:"):
        path = spec[len("file:"):]
        if path.startswith("//"):
            path = urlsplit(spec).path
        return FileSink(path)
    if spec == "syslog":
        address = "/dev/log" if os.path.exists("/dev/log") else ("127.0.0.1", 514)
        return SyslogSink(address)
    if spec.startswith("syslog://"):
        parts = urlsplit(spec)
        return SyslogSink((parts.hostname or "127.0.0.1", parts.port or 514))
    try:
        cls = import_string(spec)
    except ImportError as exc:
        raise ImproperlyConfigured(f"AUDIT_CHECKPOINT_SINK {spec!r}: not file:, syslog or a class path.") from exc
    return cls()


def configured_sink() -> CheckpointSink:
    return sink_from_spec(settings.AUDIT_CHECKPOINT_SINK)
