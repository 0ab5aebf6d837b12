"""Interpreting a Dockerfile without a container: what the daemonless builder can do.

Two phases. ``plan(content, build_args)`` reads the Dockerfile (with ``dockerfile_parse``),
picks the final stage, resolves its ``FROM`` (ARGs before FROM are substituted) and refuses
what needs a running container (RUN, ONBUILD) or another stage's files (COPY --from), naming
the line, before anything is fetched. ``apply(plan, base_config, context, ...)`` then replays
the instructions over the base image's config: ENV, ARG, WORKDIR, USER, EXPOSE, LABEL,
ENTRYPOINT, CMD, HEALTHCHECK, STOPSIGNAL, VOLUME, SHELL change the config; each COPY/ADD becomes
one layer of files taken from the build context (the uploaded artifact by its file name and
generated files). The result is what ``builder.build_image`` turns into an image.

Semantics follow Docker/BuildKit where they are observable in the image: shell-form CMD becomes
``["/bin/sh", "-c", ...]`` (or the SHELL), ENTRYPOINT resets an inherited CMD, a relative WORKDIR
or COPY destination is relative to the current WORKDIR, ENV beats ARG in substitution, a
``--chown`` name is looked up in the base image's /etc/passwd and /etc/group.
"""
from __future__ import annotations

import copy
import io
import json
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

from . import context as ctx
from .copying import copy_step
from .durations import parse_duration
from .instructions import (  # noqa: F401 (DockerfileError, UnsupportedInstruction: part of the API)
    COPY_FLAGS,
    DockerfileError,
    Instruction,
    UnsupportedInstruction,
    expand_text,
    read_flags,
    word_list,
)
from .layers import Entry

CONFIG_CHANGES = {"ENV", "ARG", "WORKDIR", "USER", "EXPOSE", "LABEL", "ENTRYPOINT", "CMD", "HEALTHCHECK",
                  "STOPSIGNAL", "VOLUME", "SHELL", "MAINTAINER"}
LAYERS = {"COPY", "ADD"}
SUPPORTED = {"FROM"} | CONFIG_CHANGES | LAYERS
KNOWN_UNSUPPORTED = {"RUN", "ONBUILD"}
DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # BuildKit's, for scratch
# What BuildKit predefines before the first FROM (this builder only makes linux/amd64 images).
PLATFORM_ARGS = {"TARGETPLATFORM": "linux/amd64", "TARGETOS": "linux", "TARGETARCH": "amd64",
                 "TARGETVARIANT": "", "BUILDPLATFORM": "linux/amd64", "BUILDOS": "linux",
                 "BUILDARCH": "amd64", "BUILDVARIANT": ""}


@dataclass
class Stage:
    line: int
    image: str  # as written, before substitution
    alias: str | None
    platform: str | None
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Plan:
    base: str | None  # the resolved FROM of the first stage of the chain; None for "scratch"
    base_line: int
    stages: list[Stage]  # the final stage and the stages it is built FROM, oldest first
    global_args: dict[str, str]
    build_args: dict[str, str]
    skipped_stages: list[str]


@dataclass
class LayerStep:
    line: int
    created_by: str
    entries: list[Entry]


@dataclass
class ImageSpec:
    config: dict  # the image config's "config" section
    author: str | None
    history: list[dict]  # entries to append to the base image's history (without "created")
    layers: list[LayerStep]
    unused_build_args: list[str]


def instructions(content: str) -> list[Instruction]:
    """The Dockerfile's instructions (comments dropped), line numbers 1-based."""
    if not isinstance(content, str):
        raise DockerfileError("the Dockerfile must be text")
    if "\x00" in content:
        raise DockerfileError("the Dockerfile contains a NUL character")
    for directive in re.finditer(r"^#\s*escape\s*=\s*(\S)", content[:1000], re.MULTILINE | re.IGNORECASE):
        if directive.group(1) != "\\":
            raise DockerfileError("the escape parser directive is not supported; use the default '\\'")
    parser = DockerfileParser(fileobj=io.BytesIO(content.encode()))
    found = []
    for item in parser.structure:
        name = item["instruction"].upper()
        if name == "COMMENT":
            continue
        found.append(Instruction(line=item["startline"] + 1, name=name, value=item["value"].strip()))
    return found


def _refuse(instruction: Instruction) -> None:
    if instruction.name == "RUN":
        raise UnsupportedInstruction(
            "RUN needs a container to run in; the native builder only assembles files and settings. "
            "Remove the RUN (copy a prepared artifact instead) or configure BUILDER=buildah.", instruction.line)
    if instruction.name == "ONBUILD":
        raise UnsupportedInstruction("ONBUILD is not supported by the native builder; it needs BUILDER=buildah.",
                                     instruction.line)
    if instruction.name not in SUPPORTED:
        raise UnsupportedInstruction(f"unknown instruction {instruction.name}", instruction.line)
    if instruction.name in LAYERS:
        flags, rest = read_flags(instruction.value, instruction.line, COPY_FLAGS | {"checksum", "keep-git-dir"})
        if "from" in flags:
            raise UnsupportedInstruction(
                f"{instruction.name} --from={flags['from']} copies from another stage or image; the native "
                "builder cannot, BUILDER=buildah can.", instruction.line)
        if "checksum" in flags or "keep-git-dir" in flags:
            raise UnsupportedInstruction(f"{instruction.name} of remote sources is not supported", instruction.line)
        if rest.lstrip().startswith("<<"):
            raise UnsupportedInstruction(f"{instruction.name} with a here-document is not supported",
                                         instruction.line)


def plan(content: str, build_args: dict[str, str] | None = None, *, refuse: bool = True) -> Plan:
    """Read the Dockerfile and choose what to build; refuses unsupported instructions by line
    (unless ``refuse`` is False: buildah only needs to know the base image)."""
    build_args = {str(k): str(v) for k, v in (build_args or {}).items()}
    found = instructions(content)
    global_args = dict(PLATFORM_ARGS)
    stages: list[Stage] = []
    for instruction in found:
        if instruction.name == "FROM":
            flags, rest = read_flags(instruction.value, instruction.line, {"platform"})
            words = word_list(rest, instruction.line)
            if len(words) == 3 and words[1].lower() == "as":
                image, alias = words[0], words[2].lower()
            elif len(words) == 1:
                image, alias = words[0], None
            else:
                raise DockerfileError("FROM takes an image and optionally AS <name>", instruction.line)
            stages.append(Stage(line=instruction.line, image=image, alias=alias, platform=flags.get("platform")))
        elif not stages:
            if instruction.name != "ARG":
                raise DockerfileError(f"{instruction.name} before the first FROM (only ARG may come first)",
                                      instruction.line)
            for word in word_list(instruction.value, instruction.line):
                name, eq, default = word.partition("=")
                value = build_args.get(name, expand_text(default, global_args, instruction.line) if eq else None)
                global_args[name] = value if value is not None else global_args.get(name, "")
        else:
            stages[-1].instructions.append(instruction)
    if not stages:
        raise DockerfileError("the Dockerfile has no FROM instruction")

    # The final stage, and the stages it is built on by name (FROM <earlier stage>).
    chain = [stages[-1]]
    while True:
        wanted = expand_text(chain[0].image, global_args, chain[0].line).lower()
        earlier = [s for s in stages[:stages.index(chain[0])] if s.alias == wanted]
        if not earlier:
            break
        chain.insert(0, earlier[-1])
    for stage in chain:
        if stage.platform and expand_text(stage.platform, global_args, stage.line) not in ("linux/amd64", "$BUILDPLATFORM"):
            raise UnsupportedInstruction(f"FROM --platform={stage.platform}: only linux/amd64 images are built",
                                         stage.line)
        for instruction in stage.instructions if refuse else ():
            _refuse(instruction)
    base = expand_text(chain[0].image, global_args, chain[0].line)
    if not base:
        raise DockerfileError("FROM names no image (an ARG without a value?)", chain[0].line)
    skipped = [s.alias or f"#{i + 1}" for i, s in enumerate(stages) if s not in chain]
    return Plan(base=None if base.lower() == "scratch" else base, base_line=chain[0].line, stages=chain,
                global_args=global_args, build_args=build_args, skipped_stages=skipped)


def _exec_or_shell(value: str, shell: list[str]) -> list[str]:
    """Exec form (a JSON array of strings) as is; anything else is shell form, as Docker decides."""
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            return parsed
    return [*shell, text]


def _pairs(instruction: Instruction, variables: dict[str, str]) -> list[tuple[str, str]]:
    """``KEY=VALUE ...`` (or the legacy ``KEY VALUE``) of ENV and LABEL."""
    words = word_list(instruction.value, instruction.line)
    if not words:
        raise DockerfileError(f"{instruction.name} needs at least one KEY=VALUE", instruction.line)
    if "=" not in words[0]:
        key, _, value = instruction.value.strip().partition(" ")
        if not value.strip():
            raise DockerfileError(f"{instruction.name} {key} has no value", instruction.line)
        return [(expand_text(key, variables, instruction.line), expand_text(value.strip(), variables, instruction.line))]
    pairs = []
    for word in words:
        if "=" not in word:
            raise DockerfileError(f"{instruction.name}: {word!r} is not KEY=VALUE", instruction.line)
        key, _, value = word.partition("=")
        key = expand_text(key, variables, instruction.line)
        if not key:
            raise DockerfileError(f"{instruction.name}: a key is empty", instruction.line)
        pairs.append((key, expand_text(value, variables, instruction.line)))
    return pairs


def _ports(instruction: Instruction, variables: dict[str, str]) -> list[str]:
    ports = []
    for word in word_list(instruction.value, instruction.line):
        text = expand_text(word, variables, instruction.line)
        number, _, protocol = text.partition("/")
        protocol = (protocol or "tcp").lower()
        if protocol not in ("tcp", "udp", "sctp"):
            raise DockerfileError(f"EXPOSE {text}: the protocol must be tcp, udp or sctp", instruction.line)
        low, _, high = number.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise DockerfileError(f"EXPOSE {text}: not a port number", instruction.line)
        first, last = int(low), int(high or low)
        if not 0 < first <= last < 65536 or last - first > 1000:
            raise DockerfileError(f"EXPOSE {text}: ports are 1-65535 (ranges of at most 1000)", instruction.line)
        ports += [f"{port}/{protocol}" for port in range(first, last + 1)]
    return ports


def _healthcheck(instruction: Instruction) -> dict:
    flags, rest = read_flags(instruction.value, instruction.line,
                         {"interval", "timeout", "start-period", "start-interval", "retries"})
    keyword, _, command = rest.strip().partition(" ")
    if keyword.upper() == "NONE":
        if flags or command.strip():
            raise DockerfileError("HEALTHCHECK NONE takes no options", instruction.line)
        return {"Test": ["NONE"]}
    if keyword.upper() != "CMD" or not command.strip():
        raise DockerfileError("HEALTHCHECK needs CMD <command> (or NONE)", instruction.line)
    test = _exec_or_shell(command, [])
    # Docker: exec form runs the command as is ("CMD"), shell form through the image's shell ("CMD-SHELL").
    check = {"Test": ["CMD-SHELL", command.strip()] if test == [command.strip()] else ["CMD", *test]}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                      ("start-interval", "StartInterval")):
        if flag in flags:
            try:
                nanoseconds = parse_duration(flags[flag])
            except ValueError as exc:
                raise DockerfileError(f"HEALTHCHECK --{flag}: {exc}", instruction.line) from exc
            if nanoseconds:
                check[key] = nanoseconds
    if "retries" in flags:
        if not flags["retries"].isdigit() or not 0 < int(flags["retries"]) < 1000:
            raise DockerfileError("HEALTHCHECK --retries must be a whole number from 1 to 999", instruction.line)
        check["Retries"] = int(flags["retries"])
    return check


class _State:
    """The config as the instructions change it, and what substitution may read."""

    def __init__(self, base_config: dict):
        self.config = copy.deepcopy(base_config.get("config") or {})
        self.author = base_config.get("author")
        self.env: dict[str, str] = {}
        for item in self.config.get("Env") or []:
            key, _, value = item.partition("=")
            self.env[key] = value
        self.args: dict[str, str] = {}
        self.cmd_set = False
        self.known_dirs = {"/"}
        if self.config.get("WorkingDir"):
            self.known_dirs.add(self.config["WorkingDir"])

    @property
    def variables(self) -> dict[str, str]:
        return {**self.args, **self.env}

    @property
    def workdir(self) -> str:
        return self.config.get("WorkingDir") or "/"

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def set_env(self, key: str, value: str) -> None:
        self.env[key] = value
        self.config["Env"] = [f"{k}={v}" for k, v in self.env.items()]


def apply(plan: Plan, base_config: dict, context: ctx.BuildContext,
          lookup_ids: Callable[[], tuple[dict[str, tuple[int, int]], dict[str, int]]] | None = None) -> ImageSpec:
    """Replay the plan's instructions over the base image's config (the config blob as a dict)."""
    if (base_config.get("config") or {}).get("OnBuild"):
        raise UnsupportedInstruction("the base image has ONBUILD triggers; building on it needs BUILDER=buildah",
                                     plan.base_line)
    state = _State(base_config)
    if plan.base is None and "PATH" not in state.env:
        state.set_env("PATH", DEFAULT_PATH)
    history: list[dict] = []
    layers: list[LayerStep] = []
    used_args: set[str] = set()
    for stage in plan.stages:
        state.args = {}  # an ARG goes out of scope at the end of its stage
        for instruction in stage.instructions:
            step = _apply_one(instruction, state, plan, context, lookup_ids, used_args)
            entry = {"created_by": instruction.text, "comment": "stratus native builder"}
            if step is None:
                entry["empty_layer"] = True
            else:
                layers.append(step)
            history.append(entry)
    unused = sorted(set(plan.build_args) - used_args - set(plan.global_args))
    return ImageSpec(config=state.config, author=state.author, history=history, layers=layers,
                     unused_build_args=unused)


def _apply_one(instruction, state: _State, plan: Plan, context, lookup_ids, used_args) -> LayerStep | None:
    name, line = instruction.name, instruction.line
    if name == "ARG":
        for word in word_list(instruction.value, line):
            key, eq, default = word.partition("=")
            if key in plan.build_args:
                used_args.add(key)
                state.args[key] = plan.build_args[key]
            elif eq:
                state.args[key] = expand_text(default, state.variables, line)
            elif key in plan.global_args:
                state.args[key] = plan.global_args[key]
    elif name == "ENV":
        for key, value in _pairs(instruction, state.variables):
            state.set_env(key, value)
    elif name == "LABEL":
        labels = dict(state.config.get("Labels") or {})
        labels.update(_pairs(instruction, state.variables))
        state.config["Labels"] = labels
    elif name == "WORKDIR":
        path = expand_text(instruction.value, state.variables, line)
        if not path:
            raise DockerfileError("WORKDIR needs a path", line)
        state.config["WorkingDir"] = posixpath.normpath(posixpath.join(state.workdir, path))
        state.known_dirs.add(state.config["WorkingDir"])
    elif name == "USER":
        user = expand_text(instruction.value, state.variables, line)
        if not user:
            raise DockerfileError("USER needs a user name or id", line)
        state.config["User"] = user
    elif name == "EXPOSE":
        ports = dict(state.config.get("ExposedPorts") or {})
        ports.update({port: {} for port in _ports(instruction, state.variables)})
        state.config["ExposedPorts"] = ports
    elif name == "ENTRYPOINT":
        state.config["Entrypoint"] = _exec_or_shell(instruction.value, state.shell)
        if not state.cmd_set:  # as Docker: an inherited CMD does not survive a new ENTRYPOINT
            state.config.pop("Cmd", None)
    elif name == "CMD":
        state.config["Cmd"] = _exec_or_shell(instruction.value, state.shell)
        state.cmd_set = True
    elif name == "HEALTHCHECK":
        state.config["Healthcheck"] = _healthcheck(instruction)
    elif name == "STOPSIGNAL":
        state.config["StopSignal"] = expand_text(instruction.value, state.variables, line)
    elif name == "VOLUME":
        value = instruction.value.strip()
        paths = json.loads(value) if value.startswith("[") else [
            expand_text(w, state.variables, line) for w in word_list(value, line)]
        volumes = dict(state.config.get("Volumes") or {})
        volumes.update({str(p): {} for p in paths})
        state.config["Volumes"] = volumes
    elif name == "SHELL":
        try:
            shell = json.loads(instruction.value)
        except ValueError:
            shell = None
        if not (isinstance(shell, list) and shell and all(isinstance(s, str) for s in shell)):
            raise DockerfileError('SHELL must be written as a JSON array, e.g. ["/bin/bash", "-c"]', line)
        state.config["Shell"] = shell
    elif name == "MAINTAINER":
        state.author = instruction.value
    elif name in LAYERS:
        return copy_step(instruction, state, context, lookup_ids)
    return None


def context_for(files: dict[str, bytes] | None, artifact: Path | None, artifact_name: str | None) -> ctx.BuildContext:
    return ctx.BuildContext(files=files, artifact=artifact, artifact_name=artifact_name)
