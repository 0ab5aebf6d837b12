"""Reading a Dockerfile into instructions with line numbers, with `dockerfile_parse`.

dockerfile_parse is lenient: a line it cannot read (a keyword with no arguments, the
body of a heredoc, a continuation left open at the end) is silently dropped. A platform
that builds from the text must not guess, so `parse()` also finds those lines and reports
each as a problem with its line number; `instructions()` refuses the first one.

Line numbers are 1-based, as editors and hadolint count them.
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from dockerfile_parse import DockerfileParser
from dockerfile_parse.parser import image_from
from dockerfile_parse.util import WordSplitter, extract_key_values

MAX_BYTES = 64 * 1024

KEYWORDS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})
# What the daemonless builder (applications/oci) can do without running anything in the image: files
# as layers, the rest as image config. RUN and ONBUILD need a container (BUILDER=buildah).
NATIVE_KEYWORDS = frozenset({
    "FROM", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "EXPOSE", "LABEL", "ENTRYPOINT", "CMD", "HEALTHCHECK",
    "STOPSIGNAL", "VOLUME", "SHELL", "MAINTAINER",
})
# What the stack templates write (templates.py): the brief's list, no RUN.
TEMPLATE_KEYWORDS = frozenset({
    "FROM", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "EXPOSE", "LABEL", "ENTRYPOINT", "CMD", "HEALTHCHECK",
})
# Local archives Docker's ADD unpacks (by content; the name is what a Dockerfile shows).
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst")
_FLAG = re.compile(r"--([a-z][a-z0-9-]*)(?:=(\S*))?\s*", re.I)
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_HEREDOC = re.compile(r"<<-?\s*[\"']?[A-Za-z_][A-Za-z0-9_]*[\"']?")


class DockerfileSyntaxError(ValueError):
    """The text is not a Dockerfile the platform can read; `line` is 1-based."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Problem:
    line: int
    message: str


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: "FROM"
    value: str  # the text after the keyword, continuation lines joined
    line: int  # first line, 1-based
    end_line: int

    @property
    def flags(self) -> dict[str, str]:
        """Leading --name=value options (COPY --chown=1:1, FROM --platform=..., HEALTHCHECK --interval=...)."""
        return dict(self._split()[0])

    @property
    def arguments(self) -> str:
        """The value without its leading flags."""
        return self._split()[1]

    def _split(self) -> tuple[list[tuple[str, str]], str]:
        text, flags = self.value.lstrip(), []
        while text.startswith("--"):
            match = _FLAG.match(text)
            if not match:
                break
            flags.append((match.group(1).lower(), match.group(2) or ""))
            text = text[match.end():]
        return flags, text

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form CMD/ENTRYPOINT/RUN/SHELL, or None for the shell form."""
        text = self.arguments.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None  # Docker runs an unparsable array through the shell, as text
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        return None


@dataclass
class Stage:
    index: int
    name: str  # "" when the FROM has no AS
    image: str  # the base as written, ARGs declared before the first FROM substituted
    from_line: int
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Parsed:
    instructions: list[Instruction]
    problems: list[Problem]
    global_args: dict[str, str]  # ARGs before the first FROM, with their defaults
    stages: list[Stage]


def normalise(content: str) -> str:
    """One newline convention (\\n), ending with one newline, as saved and as linted."""
    text = content.replace("\r\n", "\n").replace("\r", "\n")
    return text if not text or text.endswith("\n") else text + "\n"


def parse(content: str) -> Parsed:
    """Instructions, stages and every problem found (never raises on any text)."""
    text = normalise(content)
    problems: list[Problem] = []
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return Parsed([], [Problem(1, _("The Dockerfile is larger than %(n)s KiB.") % {"n": MAX_BYTES // 1024})],
                      {}, [])
    lines = text.split("\n")[:-1] if text else []
    structure = _structure(text)
    covered: set[int] = set()
    instructions: list[Instruction] = []
    for entry in structure:
        start, end = entry["startline"] + 1, entry["endline"] + 1
        covered.update(range(start, end + 1))
        if entry["instruction"] == "COMMENT":
            continue
        instructions.append(Instruction(entry["instruction"], (entry["value"] or "").strip(), start, end))

    heredoc_lines = _heredoc_lines(instructions, lines, problems)
    instructions = [ins for ins in instructions if ins.line not in heredoc_lines]
    for number, line in enumerate(lines, start=1):
        if number in covered or number in heredoc_lines or not line.strip():
            continue
        word = line.split()[0].upper()
        if _continues(lines, number):
            problems.append(Problem(number, _("The line continuation (\\) is never finished.")))
        elif word in KEYWORDS:
            problems.append(Problem(number, _("%(keyword)s needs arguments.") % {"keyword": word}))
        else:
            problems.append(Problem(number, _("This line is not a Dockerfile instruction.")))

    for ins in instructions:
        if ins.keyword not in KEYWORDS:
            problems.append(Problem(ins.line, _("Unknown instruction %(keyword)s.") % {"keyword": ins.keyword}))
        elif not ins.value:
            problems.append(Problem(ins.line, _("%(keyword)s needs arguments.") % {"keyword": ins.keyword}))

    global_args, stages = _stages(instructions, problems)
    if not stages and not any(p.line == 1 for p in problems):
        first = instructions[0].line if instructions else 1
        problems.append(Problem(first, _("There is no FROM instruction: a Dockerfile starts from a base image.")))
    problems.sort(key=lambda p: p.line)
    return Parsed(instructions, _unique(problems), global_args, stages)


def instructions(content: str) -> list[Instruction]:
    """The instructions of a Dockerfile; DockerfileSyntaxError on the first problem."""
    parsed = parse(content)
    if parsed.problems:
        raise DockerfileSyntaxError(parsed.problems[0].line, parsed.problems[0].message)
    return parsed.instructions


def substitute(text: str, variables: dict[str, str]) -> str:
    """$NAME / ${NAME} replaced as Docker does for FROM (unknown names: left as they are)."""
    try:
        return WordSplitter(text, args=variables).dequote()
    except Exception:  # a quoting error: the raw text is checked instead
        return text


def _structure(text: str) -> list[dict]:
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8", "surrogatepass")))
    try:
        return parser.structure
    except Exception:  # never seen, but the parser is not ours: a crash is a problem at line 1
        return []


def _continues(lines: list[str], number: int) -> bool:
    previous = lines[number - 2] if number >= 2 else ""
    return previous.rstrip().endswith("\\") or lines[number - 1].rstrip().endswith("\\")


def _heredoc_lines(instructions: list[Instruction], lines: list[str], problems: list[Problem]) -> set[int]:
    """Lines of heredoc bodies (BuildKit's `RUN <<EOF`): refused, and not reported line by line."""
    body: set[int] = set()
    for ins in instructions:
        match = _HEREDOC.search(ins.value)
        if ins.keyword not in {"RUN", "COPY", "ADD"} or not match:
            continue
        marker = match.group(0).lstrip("<-").strip().strip("\"'")
        problems.append(Problem(ins.line, _("Heredocs (<<%(marker)s) are not supported: put the text in a file.")
                                % {"marker": marker}))
        for number in range(ins.end_line + 1, len(lines) + 1):
            body.add(number)
            if lines[number - 1].strip() == marker:
                break
    return body


def _stages(instructions: list[Instruction], problems: list[Problem]) -> tuple[dict[str, str], list[Stage]]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            image, name = image_from(ins.value)
            if image is None and ins.value:
                problems.append(Problem(ins.line, _("FROM needs an image.")))
            image = image or ""
            words = [w for w in ins.value.split() if not w.startswith("--")]
            if image and not (len(words) == 1 or (len(words) == 3 and words[1].lower() == "as")):
                problems.append(Problem(ins.line, _("FROM takes an image and an optional “AS name”.")))
            stages.append(Stage(len(stages), (name or "").lower(), _resolve(image, global_args), ins.line))
        elif not stages:
            if ins.keyword == "ARG":
                for key, value in _key_values(ins):
                    global_args[key] = value
            elif ins.keyword in KEYWORDS:
                problems.append(Problem(ins.line, _("%(keyword)s comes before the first FROM (only ARG may).")
                                        % {"keyword": ins.keyword}))
        else:
            stages[-1].instructions.append(ins)
    return global_args, stages


def _resolve(image: str, variables: dict[str, str]) -> str:
    """The image with global ARG defaults substituted; left as written when it names an ARG without
    a default (Docker would take it from --build-arg, which the platform cannot check)."""
    names = _VARIABLE.findall(image)
    if any(not variables.get(name) for name in names):
        return image
    return substitute(image, variables) if names else image


def _key_values(ins: Instruction) -> list[tuple[str, str]]:
    try:
        return [(k, v or "") for k, v in extract_key_values(env_replace=False, args={}, envs={},
                                                            instruction_value=ins.value)]
    except Exception:
        return []


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, kept = set(), []
    for problem in problems:
        if (problem.line, problem.message) not in seen:
            seen.add((problem.line, problem.message))
            kept.append(problem)
    return kept
