"""Reproducible layer tarballs: the same files give the same bytes, hence the same digests.

What would otherwise vary between two builds of the same inputs is pinned: entries are sorted by
path, every entry has the same mtime (``EPOCH``, also the config's and history's "created"),
owners are uid/gid 0 with empty user and group names unless a ``--chown`` says otherwise, modes
are normalised (0644 files, 0755 directories and executables), every parent directory is an
entry of its own, and gzip writes mtime 0 and no file name.

The tar is written once, streamed through two SHA-256s: the uncompressed bytes give the diff_id
(what the config's rootfs lists), the compressed bytes the blob digest (what the manifest lists).
Memory stays bounded whatever the artifact's size; the compressed layer lands in a temp file.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import mediatypes as mt

EPOCH = 315532800  # 1980-01-01T00:00:00Z, the reproducible-builds convention (as zip, wheel, Bazel)
EPOCH_ISO = "1980-01-01T00:00:00Z"
FILE_MODE = 0o644
EXEC_MODE = 0o755
DIR_MODE = 0o755
COMPRESS_LEVEL = 6  # zlib's default: jars and binaries barely compress further at 9, at twice the time
# Deflate runs at ~15 MB/s on incompressible bytes whatever the level, and gains nothing on them
# (jars are zip files, many artifacts are compressed already): such layers are written as stored
# gzip blocks (level 0), which is still gzip, at memory speed. The choice depends only on the
# files' bytes, so it is as reproducible as the rest.
STORE_RATIO = 0.97  # a sample that deflate cannot shrink by 3% is taken as incompressible
_SAMPLE_BYTES = 256 * 1024
_SAMPLE_BUDGET = 4 * 1024 * 1024
_COPY_BUFFER = 1024 * 1024


@dataclass(frozen=True)
class Entry:
    """One file or directory of a layer. ``source`` is a Path on disk or the bytes themselves;
    a directory has neither. ``mode`` None means: normalised from the source."""
    path: str  # absolute in the image, e.g. "/app/app.jar"
    source: Path | bytes | None = None
    is_dir: bool = False
    mode: int | None = None
    uid: int = 0
    gid: int = 0

    @property
    def name(self) -> str:
        return normalise_path(self.path)


@dataclass(frozen=True)
class Layer:
    path: Path  # the compressed layer (a temp file the caller removes)
    digest: str  # sha256 of the compressed bytes
    diff_id: str  # sha256 of the tar
    size: int  # compressed size
    media_type: str = mt.OCI_LAYER_GZIP

    def descriptor(self) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def normalise_path(path: str) -> str:
    """``/app//lib/./x`` -> ``app/lib/x`` (tar entries are relative to the root); refuses ``..``."""
    parts = []
    for part in PurePosixPath("/" + path).parts[1:]:
        if part == ".":
            continue
        if part == "..":
            raise ValueError(f"path {path!r} leaves the image root")
        parts.append(part)
    if not parts:
        raise ValueError(f"path {path!r} names the image root")
    return "/".join(parts)


def _is_executable(source: Path | bytes) -> bool:
    """An executable bit on disk, or a file that is plainly a program (ELF, or a #! script).

    Uploaded artifacts rarely keep their mode, and a Go binary copied without --chmod must run.
    """
    if isinstance(source, Path):
        if source.stat().st_mode & 0o111:
            return True
        with open(source, "rb") as f:
            head = f.read(4)
    else:
        head = source[:4]
    return head.startswith(b"\x7fELF") or head.startswith(b"#!")


class _Hashing(io.RawIOBase):
    """A write-only stream that hashes and counts what passes through to ``out``."""

    def __init__(self, out):
        super().__init__()
        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self):
        return True

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


def _tarinfo(name: str, *, is_dir: bool, size: int, mode: int, uid: int, gid: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name + ("/" if is_dir else ""))
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.size = 0 if is_dir else size
    info.mode = mode
    info.mtime = EPOCH
    info.uid, info.gid = uid, gid
    info.uname = info.gname = ""
    return info


def plan_entries(entries: list[Entry]) -> list[Entry]:
    """All entries plus their parent directories, one per path, sorted by path.

    A later entry for the same path wins (as a later COPY source would); an explicit directory
    entry keeps its owner, implied parents are root's.
    """
    by_name: dict[str, Entry] = {}
    for entry in entries:
        name = entry.name
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            existing = by_name.get(parent)
            if existing is None:
                by_name[parent] = Entry(path="/" + parent, is_dir=True)
            elif not existing.is_dir:
                raise ValueError(f"/{parent} is a file in this layer, yet /{name} is to go below it")
        existing = by_name.get(name)
        if existing is not None and existing.is_dir and not entry.is_dir:
            raise ValueError(f"/{name} is a directory in this layer, yet a file is to replace it")
        by_name[name] = entry
    return [by_name[name] for name in sorted(by_name)]


def _samples(source: Path | bytes) -> list[bytes]:
    """Up to two pieces of a file (its start and its middle) to judge its compressibility by."""
    if isinstance(source, (bytes, bytearray)):
        size = len(source)
        middle = max(0, size // 2 - _SAMPLE_BYTES // 2)
        return [source[:_SAMPLE_BYTES]] + ([source[middle:middle + _SAMPLE_BYTES]] if size > 2 * _SAMPLE_BYTES else [])
    size = source.stat().st_size
    pieces = []
    with open(source, "rb") as f:
        pieces.append(f.read(_SAMPLE_BYTES))
        if size > 2 * _SAMPLE_BYTES:
            f.seek(size // 2 - _SAMPLE_BYTES // 2)
            pieces.append(f.read(_SAMPLE_BYTES))
    return pieces


def compress_level(entries: list[Entry]) -> int:
    """COMPRESS_LEVEL, or 0 when the files' bytes look incompressible (judged by samples)."""
    sampled = shrunk = 0
    for entry in entries:
        if entry.is_dir or entry.source is None:
            continue
        for piece in _samples(entry.source):
            if sampled >= _SAMPLE_BUDGET:
                break
            sampled += len(piece)
            shrunk += len(zlib.compress(piece, 1))
    if sampled < 64 * 1024:  # small layers: compressing them costs nothing worth saving
        return COMPRESS_LEVEL
    return 0 if shrunk >= sampled * STORE_RATIO else COMPRESS_LEVEL


def write_layer(entries: list[Entry], dest: Path, level: int | None = None) -> Layer:
    """Write the entries as a gzip'd tar at ``dest``; returns its digests and size. ``level``
    None: chosen from the files' compressibility (``compress_level``)."""
    dest = Path(dest)
    level = compress_level(entries) if level is None else level
    with open(dest, "wb") as raw:
        compressed = _Hashing(raw)
        # filename="" and mtime=0: nothing about this machine or moment in the gzip header.
        with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0,
                           compresslevel=level) as gz:
            plain = _Hashing(gz)
            with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                tar.copybufsize = _COPY_BUFFER
                for entry in plan_entries(entries):
                    _add(tar, entry)
    return Layer(path=dest, digest=compressed.digest, diff_id=plain.digest, size=compressed.size)


def _add(tar: tarfile.TarFile, entry: Entry) -> None:
    if entry.is_dir:
        mode = DIR_MODE if entry.mode is None else entry.mode
        tar.addfile(_tarinfo(entry.name, is_dir=True, size=0, mode=mode, uid=entry.uid, gid=entry.gid))
        return
    source = entry.source if entry.source is not None else b""
    if entry.mode is not None:
        mode = entry.mode
    else:
        mode = EXEC_MODE if _is_executable(source) else FILE_MODE
    if isinstance(source, Path):
        size = source.stat().st_size
        info = _tarinfo(entry.name, is_dir=False, size=size, mode=mode, uid=entry.uid, gid=entry.gid)
        with open(source, "rb") as f:
            tar.addfile(info, f)
    else:
        info = _tarinfo(entry.name, is_dir=False, size=len(source), mode=mode, uid=entry.uid, gid=entry.gid)
        tar.addfile(info, io.BytesIO(source))


def read_files(layer_paths: list[Path], wanted: set[str]) -> dict[str, bytes]:
    """The content of ``wanted`` files (relative paths such as ``etc/passwd``) in the filesystem
    the layers make, reading layers from the top down and honouring whiteouts. Small files only:
    used to resolve ``--chown`` names from a base image's /etc/passwd and /etc/group."""
    found: dict[str, bytes] = {}
    hidden: set[str] = set()
    for path in reversed(layer_paths):
        with tarfile.open(path, mode="r|*") as tar:
            layer_hidden = set()
            for member in tar:
                name = normalise_path(member.name) if member.name.strip("./") else ""
                if not name:
                    continue
                directory, _, base = name.rpartition("/")
                if base.startswith(".wh."):
                    layer_hidden.add(f"{directory}/{base[4:]}".lstrip("/") if base != ".wh..wh..opq" else directory)
                    continue
                if name in wanted and name not in found and not _is_hidden(name, hidden) and member.isfile():
                    if member.size > 16 * 1024 * 1024:
                        continue
                    extracted = tar.extractfile(member)
                    found[name] = extracted.read() if extracted else b""
            hidden |= layer_hidden
        if len(found) == len(wanted):
            break
    return found


def _is_hidden(name: str, hidden: set[str]) -> bool:
    parts = name.split("/")
    return any("/".join(parts[:i]) in hidden for i in range(1, len(parts) + 1))
