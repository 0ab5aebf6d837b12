"""The build context: the files COPY and ADD may take.

It is the uploaded artifact, under its file name, plus generated files given as a dict
(``{"config/application.yml": b"..."}``). There is no directory on disk to walk and no
.dockerignore: what is not in the dict is not in the context. Sources resolve as Docker
resolves them: a file, a directory (its contents), ``.`` (everything) or a glob whose ``*`` and
``?`` stay within one path component.
"""
from __future__ import annotations

import fnmatch
import posixpath
from pathlib import Path

_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


class ContextError(ValueError):
    pass


def clean_name(name: str) -> str:
    """A context file name, normalised; refuses absolute-looking escapes, '..' and NUL."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ContextError(f"invalid context file name {name!r}")
    cleaned = posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")
    if not cleaned or cleaned == "." or cleaned.startswith("../") or cleaned == "..":
        raise ContextError(f"invalid context file name {name!r}")
    return cleaned


class BuildContext:
    def __init__(self, files: dict[str, bytes] | None = None, artifact: Path | None = None,
                 artifact_name: str | None = None):
        self.items: dict[str, Path | bytes] = {}
        for name, data in (files or {}).items():
            if not isinstance(data, (bytes, bytearray)):
                raise ContextError(f"context file {name!r} must be bytes")
            self.items[clean_name(name)] = bytes(data)
        if artifact is not None:
            artifact = Path(artifact)
            name = clean_name(artifact_name or artifact.name)
            if name in self.items:
                raise ContextError(f"the artifact's name {name!r} is also a generated file's")
            self.items[name] = artifact

    def names(self) -> list[str]:
        return sorted(self.items)

    def source(self, name: str) -> Path | bytes:
        return self.items[name]

    def is_archive(self, name: str) -> bool:
        """A tar (plain or compressed) that Docker's ADD would unpack. Zip files (jars) are not."""
        source = self.items[name]
        if isinstance(source, Path):
            with open(source, "rb") as f:
                head = f.read(512)
        else:
            head = source[:512]
        return head.startswith(_ARCHIVE_MAGIC) or head[257:262] == b"ustar"

    def _describe(self) -> str:
        names = self.names()
        if not names:
            return "the build context is empty"
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        return f"the build context has: {shown}"

    def resolve(self, source: str) -> list[tuple[str, str, bool]]:
        """``(context name, path below the destination, spread)`` for each file the source names;
        ``spread`` is True for the files of a directory (the destination is then a directory)."""
        relative = posixpath.normpath(source.replace("\\", "/").lstrip("/") or ".")
        if relative == ".." or relative.startswith("../"):
            raise ContextError(f"{source!r} is outside the build context")
        pattern = posixpath.normpath("/" + relative).lstrip("/")
        names = self.names()
        if pattern in ("", "."):
            found = [(n, n, True) for n in names]
        elif pattern in self.items:
            found = [(pattern, posixpath.basename(pattern), False)]
        elif any(c in pattern for c in "*?["):
            found = self._glob(pattern, names)
        else:
            prefix = pattern + "/"
            found = [(n, n[len(prefix):], True) for n in names if n.startswith(prefix)]
        if not found:
            raise ContextError(f"{source!r} is not in the build context ({self._describe()})")
        return found

    @staticmethod
    def _glob(pattern: str, names: list[str]) -> list[tuple[str, str, bool]]:
        wanted = pattern.split("/")
        found = []
        for name in names:
            parts = name.split("/")
            if len(parts) < len(wanted):
                continue
            if all(fnmatch.fnmatchcase(p, w) for p, w in zip(parts, wanted, strict=False)):
                if len(parts) > len(wanted):  # the pattern matched a directory: its contents
                    found.append((name, "/".join(parts[len(wanted):]), True))
                else:
                    found.append((name, parts[-1], False))
        return found
