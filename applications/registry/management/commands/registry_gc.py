"""``manage.py registry_gc [--dry-run] [--grace-seconds N]``: remove the built-in registry's
blobs no manifest uses, stale upload sessions and stray files (applications/registry/gc.py)."""
from django.core.management.base import BaseCommand, CommandError

from applications.registry import gc
from applications.registry.manifests import human_size


class Command(BaseCommand):
    help = "Delete unreferenced blobs and stale upload sessions of the built-in registry."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only print what would be removed.")
        parser.add_argument("--grace-seconds", type=int, default=gc.DEFAULT_GRACE_SECONDS,
                            help="Keep anything used or written more recently than this (default: %(default)s).")

    def handle(self, *args, dry_run=False, grace_seconds=gc.DEFAULT_GRACE_SECONDS, **options):
        if grace_seconds < 0:
            raise CommandError("--grace-seconds must not be negative")
        report, seconds = gc.timed(grace_seconds=grace_seconds, dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        for digest, size in report.blobs:
            self.stdout.write(f"{verb} blob {digest} ({human_size(size)})")
        for upload, size in report.uploads:
            self.stdout.write(f"{verb} upload session {upload} ({human_size(size)})")
        for path, size in report.orphans:
            self.stdout.write(f"{verb} stray file {path} ({human_size(size)})")
        for name in report.repositories:
            self.stdout.write(f"{verb} empty repository {name}")
        self.stdout.write(
            f"{verb} {len(report.blobs)} blobs, {len(report.uploads)} upload sessions, {len(report.orphans)} stray "
            f"files, {len(report.repositories)} empty repositories; "
            f"{'would free' if dry_run else 'freed'} {report.bytes_freed} bytes "
            f"({human_size(report.bytes_freed)}); {report.kept} blobs in use; {seconds:.1f} s")
