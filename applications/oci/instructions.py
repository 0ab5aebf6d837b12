"""Dockerfile instructions as the interpreter sees them, and the errors that name their line."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .shellwords import ExpansionError, expand, split_words

COPY_FLAGS = {"chown", "chmod", "link", "from"}


class DockerfileError(ValueError):
    """A Dockerfile this builder cannot turn into an image; ``line`` is 1-based (None: the whole file)."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        self.reason = message
        super().__init__(f"line {line}: {message}" if line else message)


class UnsupportedInstruction(DockerfileError):
    """An instruction that needs a container (or another builder) to run."""


@dataclass(frozen=True)
class Instruction:
    line: int
    name: str
    value: str

    @property
    def text(self) -> str:
        return f"{self.name} {self.value}".strip()


def read_flags(value: str, line: int, allowed: set[str]) -> tuple[dict[str, str], str]:
    """Leading ``--name=value`` flags of an instruction and the rest of its text."""
    flags: dict[str, str] = {}
    rest = value
    while True:
        match = re.match(r"--([a-z][a-z-]*)(?:=(\"[^\"]*\"|'[^']*'|\S*))?\s*", rest)
        if not match:
            return flags, rest
        name, flag_value = match.group(1), match.group(2)
        if name not in allowed:
            raise DockerfileError(f"the flag --{name} is not supported here", line)
        flags[name] = (flag_value or "").strip("\"'") if flag_value is not None else "true"
        rest = rest[match.end():]


def expand_text(text: str, variables: dict[str, str], line: int) -> str:
    try:
        return expand(text, variables)
    except ExpansionError as exc:
        raise DockerfileError(str(exc), line) from exc


def word_list(text: str, line: int) -> list[str]:
    try:
        return split_words(text)
    except ExpansionError as exc:
        raise DockerfileError(str(exc), line) from exc
