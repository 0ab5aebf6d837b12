"""Garbage collection of the built-in registry (``manage.py registry_gc``).

Mark: a blob is in use when a manifest is stored in it or lists it (config and layers). Index
children, referrers (artifacts with a subject) and untagged manifests are manifests rows
themselves, so whatever they list stays too; only deleting a manifest lets its blobs go.
Sweep: blobs in use by nothing and not touched (uploaded, mounted, checked for existence) within
the grace period; upload sessions idle longer than it; files no row accounts for (a process killed
between writing a file and recording it); repositories left empty (a push that never finished).

Runs beside live pushes: a client pushes its blobs (touching them) before the manifest naming
them, and a blob is deleted only after re-checking, in its own transaction with the row locked,
that it is still unused and old. Pushes slower than the grace period between a blob and its
manifest are the remaining risk, so keep the grace period well above the longest push (1 h default).
"""
import os
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from . import storage
from .models import Blob, Manifest, Repository, Upload

DEFAULT_GRACE_SECONDS = 3600


@dataclass
class Report:
    dry_run: bool
    blobs: list[tuple[str, int]] = field(default_factory=list)  # (digest, bytes)
    uploads: list[tuple[str, int]] = field(default_factory=list)  # (session id or file, bytes)
    orphans: list[tuple[str, int]] = field(default_factory=list)  # (path, bytes)
    repositories: list[str] = field(default_factory=list)  # names of empty repositories
    kept: int = 0

    @property
    def bytes_freed(self) -> int:
        return sum(size for _, size in self.blobs + self.uploads + self.orphans)


def _unused(cutoff):
    listed = Manifest.blobs.through.objects.filter(blob_id=OuterRef("pk"))
    stored = Manifest.objects.filter(blob_id=OuterRef("pk"))
    return Blob.objects.filter(touched_at__lt=cutoff).filter(~Exists(listed), ~Exists(stored))


def collect(*, grace_seconds: int = DEFAULT_GRACE_SECONDS, dry_run: bool = False, now=None) -> Report:
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=grace_seconds)
    report = Report(dry_run=dry_run)
    for pk, digest, size in _unused(cutoff).values_list("pk", "digest", "size").iterator():
        if dry_run:
            report.blobs.append((digest, size))
            continue
        with transaction.atomic():
            locked = _unused(cutoff).select_for_update().filter(pk=pk).first()
            if locked is None:  # used or touched meanwhile
                continue
            locked.delete()  # and its links into repositories
        storage.delete_blob(digest)
        report.blobs.append((digest, size))
    report.kept = Blob.objects.count()
    _sweep_uploads(report, cutoff, dry_run)
    _sweep_orphans(report, cutoff, dry_run)
    _sweep_empty_repositories(report, cutoff, dry_run)
    return report


def _sweep_empty_repositories(report: Report, cutoff, dry_run: bool) -> None:
    """Repositories a push started but never finished (no manifest, blob or upload left)."""
    empty = (Repository.objects.filter(created_at__lt=cutoff, manifests__isnull=True, blob_links__isnull=True,
                                       uploads__isnull=True).values_list("pk", "name"))
    for pk, name in list(empty):
        if not dry_run:
            Repository.objects.filter(pk=pk, manifests__isnull=True, blob_links__isnull=True,
                                      uploads__isnull=True).delete()
        report.repositories.append(name)


def _sweep_uploads(report: Report, cutoff, dry_run: bool) -> None:
    for upload in Upload.objects.filter(updated_at__lt=cutoff).iterator():
        key = str(upload.pk)
        size = storage.upload_size(key)
        if not dry_run:
            storage.remove_upload(key)
            upload.delete()
        report.uploads.append((key, size))


def _old(path, cutoff_ts: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff_ts
    except FileNotFoundError:
        return False


def _sweep_orphans(report: Report, cutoff, dry_run: bool) -> None:
    cutoff_ts = cutoff.timestamp()
    uploads = storage.root() / "uploads"
    if uploads.is_dir():
        sessions = {str(pk) for pk in Upload.objects.values_list("pk", flat=True)}
        for path in uploads.iterdir():
            if path.name not in sessions and _old(path, cutoff_ts):
                _remove(report, path, dry_run)
    blobs = storage.root() / "sha256"
    if not blobs.is_dir():
        return
    for folder in blobs.iterdir():
        files = {path.name: path for path in folder.iterdir() if path.is_file()} if folder.is_dir() else {}
        if not files:
            continue
        known = set(Blob.objects.filter(digest__in=[f"sha256:{name}" for name in files])
                    .values_list("digest", flat=True))
        for name, path in files.items():
            if f"sha256:{name}" not in known and _old(path, cutoff_ts):
                _remove(report, path, dry_run)


def _remove(report: Report, path, dry_run: bool) -> None:
    try:
        size = path.stat().st_size
        if not dry_run:
            os.unlink(path)
    except FileNotFoundError:
        return
    report.orphans.append((str(path.relative_to(storage.root())), size))


def timed(**kwargs) -> tuple[Report, float]:
    started = time.monotonic()
    report = collect(**kwargs)
    return report, time.monotonic() - started
