"""Artifacts on disk, content-addressed: ``settings.BUILD_ARTIFACT_DIR/sha256/<hex>``.

An upload is written to a temporary file in the same directory tree (``tmp/``) while it
arrives, hashed on the way and counted against BUILD_ARTIFACT_MAX_BYTES, then renamed into
place: the body is never held in memory, a half-written upload is never visible under its
digest, and the same bytes uploaded twice are stored once.
"""
import hashlib
import os
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from paas.errors import DomainError

CHUNK = 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ArtifactTooLarge(DomainError):
    status_code = 413
    code = "too_large"


def root() -> Path:
    return Path(settings.BUILD_ARTIFACT_DIR)


def _tmp_dir() -> Path:
    path = root() / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def too_large(limit: int) -> ArtifactTooLarge:
    return ArtifactTooLarge(_("file: the upload is larger than the limit of %(n)s bytes.") % {"n": limit},
                            field="file")


class HashingWriter:
    """A temporary file that hashes and counts what is written, refusing bytes past `limit`."""

    def __init__(self, limit: int):
        self.limit = limit
        fd, name = tempfile.mkstemp(dir=_tmp_dir(), prefix="upload-")
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            self.discard()
            raise too_large(self.limit)
        self._sha.update(data)
        self._file.write(data)

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def discard(self) -> None:
        """Drop the temporary file (nothing to do once it was stored)."""
        self.close()
        self.path.unlink(missing_ok=True)

    def store(self) -> str:
        """Move the file to its content address; returns the path relative to the artifact root."""
        self.close()
        digest = self.sha256
        relative = f"sha256/{digest}"
        destination = root() / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.exists() and destination.stat().st_size == self.size:
            self.path.unlink(missing_ok=True)  # the same bytes are already there
        else:
            os.chmod(self.path, 0o640)
            os.replace(self.path, destination)
        return relative


def path_of(artifact) -> Path:
    """The stored file of an Artifact (its path is always sha256/<hex>: no traversal possible)."""
    kind, _sep, digest = artifact.path.partition("/")
    if kind != "sha256" or not _HEX64.match(digest):
        raise ValueError(f"artifact {artifact.pk} has an invalid stored path")
    return root() / "sha256" / digest


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def clean_checksum(value: str | None) -> str:
    """An expected SHA-256 as given by a client ("" when none): 64 hex digits, optionally 'sha256:'."""
    value = (value or "").strip().lower().removeprefix("sha256:")
    if value and not _HEX64.match(value):
        raise DomainError(_("checksum: give the SHA-256 as 64 hexadecimal digits."), field="checksum")
    return value


_BAD_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def clean_filename(value: str | None) -> str:
    """The artifact's file name as the Dockerfile's COPY names it: one path component."""
    name = (value or "").strip()
    if not name:
        raise DomainError(_("filename: give the artifact's file name."), field="filename")
    if len(name) > 255 or name in (".", "..") or _BAD_NAME.search(name) or re.search("[\ud800-\udfff]", name):
        raise DomainError(_("filename: use a plain file name (no slashes or control characters, at most "
                            "255 characters)."), field="filename")
    return name
