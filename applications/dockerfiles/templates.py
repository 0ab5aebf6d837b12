"""Stack templates: a small form (base image, artifact, ports, runtime options, user, health
check, extra environment) rendered into a commented Dockerfile.

The output uses only what the daemonless builder can do (FROM, COPY, ADD, ENV, ARG, WORKDIR,
USER, EXPOSE, LABEL, ENTRYPOINT, CMD, HEALTHCHECK): no RUN. The same form always gives the
same text, byte for byte (no dates; comments in English whatever the reader's language), so
saving a regenerated, unchanged Dockerfile creates no new version.

`validate(stack, form)` returns the cleaned form or raises TemplateFormError with messages
per field; `render(stack, form)` validates first. The base image must be one of the enabled
BaseImage rows of the stack (the platform's allowed list; see `default_base_images()`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from paas.errors import DomainError

from .healthcheck import render_healthcheck, validate_healthcheck

STACKS = ("java", "go", "python", "node", "static")
DEFAULT_USER = "10001"
APP_DIR = "/app"
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_USER = re.compile(r"^([a-z_][a-z0-9_-]{0,31}|[0-9]{1,10})(:([a-z_][a-z0-9_-]{0,31}|[0-9]{1,10}))?$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_RELATIVE_PATH = re.compile(r"^(?!/)(?!.*\.\.)[A-Za-z0-9._/+-]{1,200}$")
_MEMORY = re.compile(r"^[0-9]{1,12}(B|KiB|MiB|GiB|TiB)?$")
ARCHIVES = (".tar", ".tar.gz", ".tgz")
MAX_PORTS = 10
MAX_ENV = 50


class TemplateFormError(DomainError):
    """Invalid form values; `errors` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        first = next(iter(errors.items()))
        super().__init__(f"{first[0]}: {first[1][0]}", field="form")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # choice | string | ports | user | healthcheck | env | integer
    label: object
    help: object = ""
    required: bool = False
    default: object = None
    choices: tuple = ()

    def describe(self, stack: str, base_images: list[str]) -> dict:
        choices = list(base_images) if self.name == "base_image" else list(self.choices)
        default = (base_images[0] if base_images else None) if self.name == "base_image" else self.default
        return {"name": self.name, "kind": self.kind, "label": str(self.label), "help": str(self.help),
                "required": self.required, "default": default, "choices": choices}


@dataclass(frozen=True)
class StackSpec:
    name: str
    label: object
    artifact_default: str
    artifact_help: object
    default_port: int
    health_default: dict
    extra: tuple[FieldSpec, ...] = field(default_factory=tuple)


_HEALTH_HELP = gettext_lazy("HTTP path and port checked from inside the container, a command, or none.")
COMMON = (
    FieldSpec("base_image", "choice", gettext_lazy("Base image"),
              gettext_lazy("From the platform's allowed list for this stack."), required=True),
    FieldSpec("artifact", "string", gettext_lazy("Artifact file name"), required=True),
    FieldSpec("ports", "ports", gettext_lazy("Ports"), gettext_lazy("Container ports the service listens on.")),
    FieldSpec("user", "user", gettext_lazy("User"),
              gettext_lazy("A non-root user id (uid or uid:gid) the container runs as."), default=DEFAULT_USER),
    FieldSpec("healthcheck", "healthcheck", gettext_lazy("Health check"), _HEALTH_HELP),
    FieldSpec("env", "env", gettext_lazy("Extra environment"), gettext_lazy("NAME=value pairs set in the image.")),
)

SPECS: dict[str, StackSpec] = {
    "java": StackSpec(
        "java", gettext_lazy("Java (Spring Boot jar)"), "app.jar",
        gettext_lazy("The executable jar (Spring Boot fat jar), e.g. app.jar."), 8080,
        {"kind": "http", "path": "/actuator/health", "port": None, "interval": 30, "timeout": 3,
         "start_period": 30, "retries": 3},
        (FieldSpec("jvm_options", "string", gettext_lazy("JVM options"),
                   gettext_lazy("Set as JAVA_TOOL_OPTIONS, which the JVM reads itself."),
                   default="-XX:MaxRAMPercentage=75.0"),),
    ),
    "go": StackSpec(
        "go", gettext_lazy("Go (static binary)"), "app",
        gettext_lazy("A statically linked binary (CGO_ENABLED=0), e.g. app."), 8080,
        {"kind": "none"},
        (FieldSpec("gomaxprocs", "integer", gettext_lazy("GOMAXPROCS"),
                   gettext_lazy("Threads running Go code at once; empty: the number of CPUs.")),
         FieldSpec("gomemlimit", "string", gettext_lazy("GOMEMLIMIT"),
                   gettext_lazy("Soft memory limit of the Go runtime, e.g. 450MiB; empty: none.")),
         FieldSpec("gogc", "string", gettext_lazy("GOGC"), gettext_lazy("Garbage collector target percentage, or off."))),
    ),
    "python": StackSpec(
        "python", gettext_lazy("Python (wheel or app archive)"), "app-1.0-py3-none-any.whl",
        gettext_lazy("A pure-Python wheel (.whl), a zipapp (.pyz), or an archive of the app directory "
                     "(.tar.gz, unpacked into /app by ADD: that needs the buildah builder)."), 8000,
        {"kind": "http", "path": "/healthz", "port": None, "interval": 30, "timeout": 3, "start_period": 10,
         "retries": 3},
        (FieldSpec("module", "string", gettext_lazy("Module to run"),
                   gettext_lazy("Run with python -m, e.g. myapp.server (not needed for a .pyz)."), default="app"),
         FieldSpec("python_optimize", "integer", gettext_lazy("PYTHONOPTIMIZE"),
                   gettext_lazy("0, 1 (drop asserts) or 2 (also docstrings)."), default=0, choices=(0, 1, 2))),
    ),
    "node": StackSpec(
        "node", gettext_lazy("Node.js"), "server.js",
        gettext_lazy("A bundled script (.js, .mjs, .cjs), or an archive of the app directory (.tar.gz, "
                     "unpacked into /app by ADD: that needs the buildah builder)."), 3000,
        {"kind": "http", "path": "/healthz", "port": None, "interval": 30, "timeout": 3, "start_period": 10,
         "retries": 3},
        (FieldSpec("main", "string", gettext_lazy("Main script"),
                   gettext_lazy("For an archive: the script to run, relative to /app."), default="server.js"),
         FieldSpec("node_options", "string", gettext_lazy("NODE_OPTIONS"),
                   gettext_lazy("e.g. --max-old-space-size=384"), default="")),
    ),
    "static": StackSpec(
        "static", gettext_lazy("Static web (nginx)"), "index.html",
        gettext_lazy("A single file (e.g. a bundled index.html), or an archive of the built site (.tar.gz, "
                     "unpacked into the web root by ADD: that needs the buildah builder)."), 8080,
        {"kind": "http", "path": "/", "port": None, "interval": 30, "timeout": 3, "start_period": 5, "retries": 3},
    ),
}


def default_base_images() -> list[dict]:
    """The platform's initial allowed list (one per stack), for a data migration or the demo loader.

    Plain dicts so that a migration can use them with its historical BaseImage model."""
    return [
        {"name": "platform/jre", "tag": "17", "stack": "java",
         "description": "Java 17 runtime (JRE) for Spring Boot jars"},
        {"name": "platform/distroless-static", "tag": "1", "stack": "go",
         "description": "Distroless-style base for static binaries: no shell, no package manager"},
        {"name": "platform/python", "tag": "3.12", "stack": "python", "description": "Python 3.12 runtime"},
        {"name": "platform/node", "tag": "20", "stack": "node", "description": "Node.js 20 runtime"},
        {"name": "platform/nginx", "tag": "1.27", "stack": "static",
         "description": "nginx 1.27 serving /usr/share/nginx/html on port 8080 as a non-root user"},
    ]


def base_images_for(stack: str) -> list[str]:
    """References (name:tag) of the enabled base images of a stack: the form's choices."""
    from applications.models import BaseImage

    return [b.reference for b in BaseImage.objects.filter(enabled=True, stack=stack).order_by("name", "tag")]


def fields_for(stack: str, base_images: list[str] | None = None) -> list[dict]:
    """The form of a stack, described for the API and the pages (defaults filled in)."""
    spec = _spec(stack)
    images = base_images_for(stack) if base_images is None else base_images
    described = []
    for f in COMMON + spec.extra:
        entry = f.describe(stack, images)
        if f.name == "artifact":
            entry["default"], entry["help"] = spec.artifact_default, str(spec.artifact_help)
        elif f.name == "ports":
            entry["default"] = [spec.default_port]
        elif f.name == "healthcheck":
            entry["default"] = {**spec.health_default, **({"port": spec.default_port}
                                                          if "port" in spec.health_default else {})}
        elif f.name == "env":
            entry["default"] = []
        described.append(entry)
    return described


def defaults(stack: str, base_images: list[str] | None = None) -> dict:
    return {f["name"]: f["default"] for f in fields_for(stack, base_images)}


def render(stack: str, form: dict, *, base_images: list[str] | None = None) -> str:
    """The Dockerfile text for a stack and its form values (validated: TemplateFormError)."""
    clean = validate(stack, form, base_images=base_images)
    return _RENDERERS[stack](clean)


def validate(stack: str, form, *, base_images: list[str] | None = None) -> dict:
    """The form with defaults filled in and every value checked; TemplateFormError names each bad field."""
    spec = _spec(stack)
    images = base_images_for(stack) if base_images is None else base_images
    if not isinstance(form, dict):
        raise TemplateFormError({"form": [_("Must be an object of field values.")]})
    known = {f.name for f in COMMON + spec.extra}
    if len(form) > 2 * len(known):
        raise TemplateFormError({"form": [_("Too many fields: the %(stack)s template has %(n)s.")
                                          % {"stack": stack, "n": len(known)}]})
    errors: dict[str, list[str]] = {}
    for name in sorted(set(form) - known):
        errors[str(name)[:100]] = [_("Unknown field for the %(stack)s template.") % {"stack": stack}]
    values = {**defaults(stack, images), **{k: v for k, v in form.items() if k in known and v is not None}}
    clean: dict = {}
    for name, check in _checks(spec, images).items():
        try:
            clean[name] = check(values.get(name))
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise TemplateFormError(errors)
    return clean


def _spec(stack: str) -> StackSpec:
    if stack not in SPECS:
        raise TemplateFormError({"stack": [_("Choose one of: %(stacks)s.") % {"stacks": ", ".join(STACKS)}]})
    return SPECS[stack]


# --- checks (each returns the clean value or raises ValueError with the message) -----------

def _checks(spec: StackSpec, images: list[str]) -> dict:
    checks = {
        "base_image": lambda v: _check_base(v, images, spec.name),
        "artifact": lambda v: _check_artifact(v, spec.name),
        "ports": _check_ports,
        "user": _check_user,
        "healthcheck": lambda v: validate_healthcheck(v, spec.name),
        "env": _check_env,
    }
    if spec.name == "java":
        checks["jvm_options"] = lambda v: _check_text(v, 1000)
    elif spec.name == "go":
        checks["gomaxprocs"] = lambda v: _check_int(v, 1, 1024, optional=True)
        checks["gomemlimit"] = _check_memory
        checks["gogc"] = _check_gogc
    elif spec.name == "python":
        checks["module"] = _check_module
        checks["python_optimize"] = lambda v: _check_int(v, 0, 2)
    elif spec.name == "node":
        checks["main"] = _check_main
        checks["node_options"] = lambda v: _check_text(v, 1000)
    return checks


def _check_base(value, images: list[str], stack: str) -> str:
    if not images:
        raise ValueError(_("No base image is enabled for the %(stack)s stack: ask a platform operator.")
                         % {"stack": stack})
    if not isinstance(value, str) or value not in images:
        raise ValueError(_("Choose one of the allowed base images: %(list)s.") % {"list": ", ".join(images)})
    return value


def _check_artifact(value, stack: str) -> str:
    if not isinstance(value, str) or not _FILE_NAME.match(value):
        raise ValueError(_("A file name: letters, digits, dots, dashes, underscores and plus signs (no folders)."))
    lower = value.lower()
    if stack == "java" and not lower.endswith(".jar"):
        raise ValueError(_("The Java template runs an executable jar: the name ends with .jar."))
    if stack == "python" and not lower.endswith((".whl", ".pyz", *ARCHIVES)):
        raise ValueError(_("A wheel (.whl), a zipapp (.pyz) or an archive (.tar.gz, .tgz, .tar)."))
    if stack == "node" and not lower.endswith((".js", ".mjs", ".cjs", *ARCHIVES)):
        raise ValueError(_("A script (.js, .mjs, .cjs) or an archive (.tar.gz, .tgz, .tar)."))
    return value


def _check_ports(value) -> list[int]:
    if not isinstance(value, list) or len(value) > MAX_PORTS:
        raise ValueError(_("A list of up to %(n)s port numbers.") % {"n": MAX_PORTS})
    ports = []
    for port in value:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValueError(_("Each port is a number from 1 to 65535."))
        if port < 1024:
            raise ValueError(_("Port %(port)s is privileged (below 1024): a non-root user cannot listen on it; "
                               "use e.g. 8080.") % {"port": port})
        if port in ports:
            raise ValueError(_("Port %(port)s is listed twice.") % {"port": port})
        ports.append(port)
    return ports


def _check_user(value) -> str:
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not _USER.match(text):
        raise ValueError(_("A user id (10001), a name (app), or either with a group (10001:10001)."))
    user = text.split(":", 1)[0]
    if user == "root" or (user.isdigit() and int(user) == 0):
        raise ValueError(_("The container must not run as root: use a non-root user such as 10001."))
    return text


def _check_env(value) -> list[dict]:
    if isinstance(value, dict):
        value = [{"name": k, "value": v} for k, v in value.items()]
    if not isinstance(value, list) or len(value) > MAX_ENV:
        raise ValueError(_("A list of up to %(n)s {name, value} pairs.") % {"n": MAX_ENV})
    names, clean = set(), []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"name", "value"}:
            raise ValueError(_("Each entry is {name, value}."))
        name, text = item.get("name"), item.get("value", "")
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise ValueError(_("“%(name)s” is not a variable name (letters, digits, underscores).")
                             % {"name": str(name)[:50]})
        if name in names:
            raise ValueError(_("%(name)s is set twice.") % {"name": name})
        names.add(name)
        clean.append({"name": name, "value": _check_text(text, 2000)})
    return clean


def _check_text(value, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(_("Text of at most %(n)s characters.") % {"n": limit})
    if any(ch in value for ch in "\n\r\t\x00") or not value.isprintable():
        raise ValueError(_("One line of printable text."))
    return value


def _check_int(value, low: int, high: int, *, optional: bool = False) -> int | None:
    if value in (None, "") and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(_("A whole number from %(low)s to %(high)s.") % {"low": low, "high": high})
    return value


def _check_memory(value) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or not _MEMORY.match(value):
        raise ValueError(_("A size such as 450MiB or 1GiB."))
    return value


def _check_gogc(value) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not (value == "off" or (value.isdigit() and 1 <= int(value) <= 10000)):
        raise ValueError(_("A percentage from 1 to 10000, or off."))
    return value


def _check_module(value) -> str:
    if not isinstance(value, str) or not _MODULE.match(value) or len(value) > 200:
        raise ValueError(_("A Python module path such as myapp.server."))
    return value


def _check_main(value) -> str:
    if not isinstance(value, str) or not _RELATIVE_PATH.match(value):
        raise ValueError(_("A path inside /app such as server.js or dist/main.js."))
    return value


# --- rendering ---------------------------------------------------------------------------------

def quote(value: str) -> str:
    """A double-quoted Dockerfile word: ENV and LABEL substitute $VARS, so $ is escaped too."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def exec_form(args: list[str]) -> str:
    """A JSON array, as Docker's exec form wants it (double quotes, no shell)."""
    import json

    return json.dumps(args, ensure_ascii=False)


def _env_block(pairs: list[tuple[str, str]]) -> list[str]:
    if not pairs:
        return []
    lines = [f"{name}={quote(value)}" for name, value in pairs]
    return ["ENV " + " \\\n    ".join(lines)]


def _header(stack: str, clean: dict) -> list[str]:
    return [
        f"# Generated from the platform template “{stack}”; edit it freely.",
        "# Built without a Docker daemon: no RUN, only files added to the base image.",
        f"FROM {clean['base_image']}",
        "",
    ]


def _tail(clean: dict, stack: str, entrypoint: list[str] | None, cmd: list[str] | None) -> list[str]:
    lines = []
    if clean["env"]:
        lines += ["# Extra environment from the form."]
        lines += _env_block([(e["name"], e["value"]) for e in clean["env"]])
        lines.append("")
    if clean["ports"]:
        lines += ["EXPOSE " + " ".join(str(p) for p in clean["ports"]), ""]
    lines += ["# Never root: a numeric uid lets Kubernetes check runAsNonRoot.", f"USER {clean['user']}", ""]
    lines += render_healthcheck(clean["healthcheck"], stack, clean["ports"], clean["artifact"])
    if entrypoint:
        lines.append(f"ENTRYPOINT {exec_form(entrypoint)}")
    if cmd:
        lines.append(f"CMD {exec_form(cmd)}")
    return lines


def _render_java(clean: dict) -> str:
    lines = _header("java", clean)
    lines += [f"WORKDIR {APP_DIR}",
              "# The jar is owned by root and read-only for the app user.",
              f"COPY {clean['artifact']} {APP_DIR}/app.jar", ""]
    env = [("JAVA_TOOL_OPTIONS", clean["jvm_options"])] if clean["jvm_options"] else []
    if clean["ports"]:
        env.append(("SERVER_PORT", str(clean["ports"][0])))
    if env:
        lines += ["# The JVM reads JAVA_TOOL_OPTIONS itself (JAVA_OPTS needs a start script; exec form has no",
                  "# shell to expand it)."]
        lines += _env_block(env) + [""]
    return _finish(lines + _tail(clean, "java", ["java", "-jar", f"{APP_DIR}/app.jar"], None))


def _render_go(clean: dict) -> str:
    lines = _header("go", clean)
    target = f"{APP_DIR}/{clean['artifact']}"
    lines += [f"WORKDIR {APP_DIR}",
              "# A static binary: the base image has no shell and no libc to link against.",
              f"COPY {clean['artifact']} {target}", ""]
    env = [(k.upper(), str(clean[k])) for k in ("gomaxprocs", "gomemlimit", "gogc") if clean[k] not in (None, "")]
    if env:
        lines += ["# Go runtime settings."] + _env_block(env) + [""]
    return _finish(lines + _tail(clean, "go", [target], None))


def _is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVES)


def _render_python(clean: dict) -> str:
    lines = _header("python", clean)
    artifact = clean["artifact"]
    lines.append(f"WORKDIR {APP_DIR}")
    env = [("PYTHONUNBUFFERED", "1"), ("PYTHONDONTWRITEBYTECODE", "1")]
    if artifact.lower().endswith(".whl"):
        lines += ["# A pure-Python wheel is importable as it is (zipimport): no pip install needed.",
                  f"COPY {artifact} {APP_DIR}/{artifact}"]
        env.append(("PYTHONPATH", f"{APP_DIR}/{artifact}"))
        command = ["python", "-m", clean["module"]]
    elif artifact.lower().endswith(".pyz"):
        lines += [f"COPY {artifact} {APP_DIR}/{artifact}"]
        command = ["python", f"{APP_DIR}/{artifact}"]
    else:
        lines += ["# ADD unpacks a local archive into the directory.", f"ADD {artifact} {APP_DIR}/"]
        env.append(("PYTHONPATH", APP_DIR))
        command = ["python", "-m", clean["module"]]
    if clean["python_optimize"]:
        env.append(("PYTHONOPTIMIZE", str(clean["python_optimize"])))
    if clean["ports"]:
        env.append(("PORT", str(clean["ports"][0])))
    lines += [""] + _env_block(env) + [""]
    return _finish(lines + _tail(clean, "python", command, None))


def _render_node(clean: dict) -> str:
    lines = _header("node", clean)
    artifact = clean["artifact"]
    lines.append(f"WORKDIR {APP_DIR}")
    if _is_archive(artifact):
        lines += ["# ADD unpacks a local archive into the directory (node_modules included).",
                  f"ADD {artifact} {APP_DIR}/"]
        main = f"{APP_DIR}/{clean['main']}"
    else:
        lines += [f"COPY {artifact} {APP_DIR}/{artifact}"]
        main = f"{APP_DIR}/{artifact}"
    env = [("NODE_ENV", "production")]
    if clean["node_options"]:
        env.append(("NODE_OPTIONS", clean["node_options"]))
    if clean["ports"]:
        env.append(("PORT", str(clean["ports"][0])))
    lines += [""] + _env_block(env) + [""]
    return _finish(lines + _tail(clean, "node", ["node", main], None))


def _render_static(clean: dict) -> str:
    lines = _header("static", clean)
    artifact, root = clean["artifact"], "/usr/share/nginx/html"
    if _is_archive(artifact):
        lines += ["# ADD unpacks a local archive into the web root.", f"ADD {artifact} {root}/", ""]
    else:
        lines += [f"COPY {artifact} {root}/{artifact}", ""]
    lines += ["# The platform nginx image listens on 8080 as a non-root user (EXPOSE and USER below).", ""]
    return _finish(lines + _tail(clean, "static", None, ["nginx", "-g", "daemon off;"]))


def _finish(lines: list[str]) -> str:
    text = "\n".join(lines).rstrip("\n") + "\n"
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


_RENDERERS = {"java": _render_java, "go": _render_go, "python": _render_python, "node": _render_node,
              "static": _render_static}
