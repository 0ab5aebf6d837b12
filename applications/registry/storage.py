"""Blob bytes on disk, content-addressed under settings.REGISTRY_STORAGE_DIR:

    sha256/<first 2 hex>/<hex>    a blob (layers, configs, manifests), never changed once written
    uploads/<session id>          bytes of an upload session so far
    uploads/tmp-<random>          a monolithic upload being received

Bodies are copied in CHUNK-sized reads, never held whole in memory; a blob appears under its
digest only by an atomic rename from uploads/, which is on the same filesystem.
"""
import contextlib
import fcntl
import hashlib
import os
import secrets
from pathlib import Path

from django.conf import settings

from .names import valid_digest

CHUNK = 64 * 1024


class SizeExceeded(Exception):
    """The body went past the size it was allowed to have."""


def root() -> Path:
    return Path(settings.REGISTRY_STORAGE_DIR)


def uploads_dir() -> Path:
    path = root() / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def blob_path(digest: str) -> Path:
    if not valid_digest(digest):  # the only strings that ever become a path
        raise ValueError(f"not a sha256 digest: {digest!r}")
    hexpart = digest.split(":", 1)[1]
    return root() / "sha256" / hexpart[:2] / hexpart


def upload_path(upload_id) -> Path:
    return uploads_dir() / str(upload_id)


def blob_exists(digest: str) -> bool:
    return blob_path(digest).is_file()


def copy_stream(source, target, *, limit: int, hasher=None) -> int:
    """Copy `source` (anything with read(n)) into the open file `target`, at most `limit` bytes.
    Returns the number of bytes copied; SizeExceeded past the limit."""
    written = 0
    while True:
        chunk = source.read(CHUNK)
        if not chunk:
            return written
        written += len(chunk)
        if written > limit:
            raise SizeExceeded(written)
        if hasher is not None:
            hasher.update(chunk)
        target.write(chunk)


def file_digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def receive(source, *, limit: int) -> tuple[Path, str, int]:
    """Stream a whole body into a temporary file: (path, sha256 digest, size). The caller
    moves it into place with `commit` or removes it with `discard`."""
    path = uploads_dir() / f"tmp-{secrets.token_hex(16)}"
    hasher = hashlib.sha256()
    try:
        with open(path, "xb") as handle:
            size = copy_stream(source, handle, limit=limit, hasher=hasher)
    except BaseException:
        discard(path)
        raise
    return path, "sha256:" + hasher.hexdigest(), size


def write_bytes(data: bytes) -> tuple[Path, str]:
    """A small body already in memory (a manifest) into a temporary file: (path, digest)."""
    path = uploads_dir() / f"tmp-{secrets.token_hex(16)}"
    with open(path, "xb") as handle:
        handle.write(data)
    return path, "sha256:" + hashlib.sha256(data).hexdigest()


def commit(path: Path, digest: str) -> None:
    """Move a fully received and verified file into place under its digest. A copy already there
    holds the same bytes; replacing it anyway means the blob's file exists after this returns even
    if a garbage collection removed the old copy meanwhile (readers keep the inode they opened)."""
    target = blob_path(digest)
    os.chmod(path, 0o644)
    for attempt in (1, 2):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, target)  # atomic on one filesystem: readers see all of it or nothing
            return
        except FileNotFoundError:  # the directory was emptied and removed by GC meanwhile
            if attempt == 2:
                raise


def discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def delete_blob(digest: str) -> int:
    """Remove a blob's file; returns the bytes freed (0 when it was not there)."""
    path = blob_path(digest)
    try:
        size = path.stat().st_size
        os.unlink(path)
    except FileNotFoundError:
        return 0
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # only when empty
    return size


def open_blob(digest: str):
    return open(blob_path(digest), "rb")


def read_blob(digest: str, *, limit: int) -> bytes:
    with open_blob(digest) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise SizeExceeded(len(data))
    return data


# --- upload sessions -----------------------------------------------------------------------

def create_upload_file(upload_id) -> None:
    upload_path(upload_id).touch(exist_ok=False)


class Busy(Exception):
    """Another request is appending to the same upload session."""


@contextlib.contextmanager
def locked_upload(upload_id):
    """The session's file opened for appending under an exclusive, non-blocking lock, so two
    chunks sent at once cannot interleave; the lock dies with the process holding it. The file's
    size is the session's offset: no database transaction stays open while a body streams in."""
    try:
        handle = open(upload_path(upload_id), "r+b")
    except FileNotFoundError:
        raise
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy() from None
        handle.seek(0, os.SEEK_END)
        yield handle
    finally:
        handle.close()  # releases the lock


def append(handle, source, *, limit: int) -> int:
    """Append a body to a locked session file; on any failure the file is cut back to where it
    was, so a broken chunk leaves the session as before it. Returns the bytes appended."""
    start = handle.tell()
    try:
        written = copy_stream(source, handle, limit=limit)
        handle.flush()
    except BaseException:
        handle.truncate(start)
        raise
    return written


def upload_size(upload_id) -> int:
    try:
        return upload_path(upload_id).stat().st_size
    except FileNotFoundError:
        return 0


def remove_upload(upload_id) -> None:
    discard(upload_path(upload_id))
