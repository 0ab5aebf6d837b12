"""COPY and ADD: which files of the build context go where in the image, owned by whom.

Docker's rules: a relative destination is relative to WORKDIR; a destination ending in ``/`` (or
``.``, or a directory already known to the build) receives files by their names; a directory
source copies its contents; several source files need a directory destination; ``--chown`` names
are looked up in the base image's /etc/passwd and /etc/group (BuildKit's way: a user name alone
takes the user's primary group, a number alone is used for both); the destination directory the
copy creates is owned as the files are.
"""
from __future__ import annotations

import json
import posixpath
import re

from . import context as ctx
from .instructions import (
    COPY_FLAGS,
    DockerfileError,
    Instruction,
    UnsupportedInstruction,
    expand_text,
    read_flags,
    word_list,
)
from .layers import Entry, normalise_path


def owner(spec: str, lookup_ids, line: int) -> tuple[int, int]:
    """``--chown=user[:group]``: numbers as they are; names from the base image's passwd/group."""
    user, _, group = spec.partition(":")
    users = groups = None

    def tables():
        nonlocal users, groups
        if users is None:
            if lookup_ids is None:
                raise DockerfileError(f"--chown={spec}: names cannot be looked up here; use numeric ids", line)
            users, groups = lookup_ids()
        return users, groups

    if user.isdigit():
        uid, gid = int(user), int(user)
    else:
        known = tables()[0]
        if user not in known:
            raise DockerfileError(f"--chown={spec}: the base image's /etc/passwd has no user {user!r}", line)
        uid, gid = known[user]
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            known_groups = tables()[1]
            if group not in known_groups:
                raise DockerfileError(f"--chown={spec}: the base image's /etc/group has no group {group!r}", line)
            gid = known_groups[group]
    return uid, gid


def copy_step(instruction: Instruction, state, context: ctx.BuildContext, lookup_ids):
    line = instruction.line
    flags, rest = read_flags(instruction.value, line, COPY_FLAGS)
    value = rest.strip()
    if value.startswith("["):
        try:
            args = json.loads(value)
        except ValueError as exc:
            raise DockerfileError(f"{instruction.name}: the JSON array does not parse", line) from exc
        args = [expand_text(a.replace("\\", "\\\\"), state.variables, line) for a in args]
    else:
        args = [expand_text(w, state.variables, line) for w in word_list(value, line)]
    if len(args) < 2:
        raise DockerfileError(f"{instruction.name} needs at least one source and a destination", line)
    sources, dest = args[:-1], args[-1]
    uid, gid = owner(expand_text(flags["chown"], state.variables, line), lookup_ids, line) if flags.get("chown") else (0, 0)
    mode = None
    if flags.get("chmod"):
        chmod = expand_text(flags["chmod"], state.variables, line)
        if not re.fullmatch(r"[0-7]{3,4}", chmod):
            raise DockerfileError(f"--chmod={chmod}: an octal mode such as 0755 is expected", line)
        mode = int(chmod, 8)

    matched: list[tuple[str, str, bool]] = []  # (context name, path below the destination, from a dir/glob)
    for source in sources:
        if instruction.name == "ADD" and (re.match(r"^[a-z][a-z0-9+.-]*://", source) or source.startswith("git@")):
            raise UnsupportedInstruction(f"ADD {source}: remote sources are not fetched; put the file in the "
                                         "build context instead", line)
        try:
            found = context.resolve(source)
        except ctx.ContextError as exc:
            raise DockerfileError(f"{instruction.name}: {exc}", line) from exc
        if instruction.name == "ADD":
            for name, _, _ in found:
                if context.is_archive(name):
                    raise UnsupportedInstruction(
                        f"ADD {name}: Docker would unpack this archive and the native builder does not; "
                        "use COPY to copy the file as it is, or BUILDER=buildah", line)
        matched += found

    dest_path = posixpath.join(state.workdir, dest)
    names_dir = (dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
                 or posixpath.normpath(dest_path) in state.known_dirs)
    if len([m for m in matched if not m[2]]) > 1 and not names_dir:
        raise DockerfileError(f"{instruction.name} with more than one source file needs a destination "
                              "directory ending with /", line)
    into_dir = names_dir or len(matched) > 1 or any(spread for _, _, spread in matched)
    entries: list[Entry] = []
    dest_dir = posixpath.normpath(dest_path)
    try:
        if into_dir:
            if flags.get("chown") and dest_dir != "/":
                entries.append(Entry(path=dest_dir, is_dir=True, uid=uid, gid=gid, mode=mode))
            for name, below, _ in matched:
                target = posixpath.join(dest_dir, below)
                entries += _parents_below(dest_dir, target, uid, gid, mode) if flags.get("chown") else []
                entries.append(Entry(path=target, source=context.source(name), mode=mode, uid=uid, gid=gid))
        else:
            name = matched[0][0]
            entries.append(Entry(path=dest_dir, source=context.source(name), mode=mode, uid=uid, gid=gid))
        for entry in entries:
            normalise_path(entry.path)
    except ValueError as exc:
        raise DockerfileError(f"{instruction.name}: {exc}", line) from exc
    for entry in entries:
        state.known_dirs.add(posixpath.dirname("/" + entry.name))
        if entry.is_dir:
            state.known_dirs.add("/" + entry.name)
    from .dockerfile import LayerStep  # the result type lives with the rest of the spec

    return LayerStep(line=line, created_by=instruction.text, entries=entries)


def _parents_below(top: str, target: str, uid: int, gid: int, mode: int | None) -> list[Entry]:
    """Directories between ``top`` and ``target``'s parent, owned as the copied files are."""
    found = []
    parent = posixpath.dirname(target)
    while parent != top and parent.startswith(top.rstrip("/") + "/"):
        found.append(Entry(path=parent, is_dir=True, uid=uid, gid=gid, mode=mode))
        parent = posixpath.dirname(parent)
    return found
