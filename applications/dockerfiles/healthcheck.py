"""The health-check part of the stack templates: checked form values and the HEALTHCHECK lines.

An HTTP check runs inside the container, so it needs a client there: the Python and Node.js
templates use their own runtime (nothing else to install), the JRE and nginx bases ship curl;
a distroless base has no client at all, so the Go template offers a command (one the binary
itself understands) or none. Kubernetes ignores HEALTHCHECK: the component's probes are what a
cluster uses, and the comment in the Dockerfile says so.
"""
from __future__ import annotations

import json
import re

from django.utils.translation import gettext as _

KINDS = ("http", "command", "none")
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&()*+,;=:@/%?-]{0,199}$")
HTTP_STACKS = ("java", "python", "node", "static")


def validate_healthcheck(value, stack: str) -> dict:
    if value is None:
        value = {"kind": "none"}
    if not isinstance(value, dict):
        raise ValueError(_("An object with kind (http, command or none) and its settings."))
    unknown = set(value) - {"kind", "path", "port", "interval", "timeout", "start_period", "retries", "command"}
    if unknown:
        raise ValueError(_("Unknown settings: %(names)s.") % {"names": ", ".join(sorted(map(str, unknown)))[:200]})
    kind = value.get("kind", "none")
    if kind not in KINDS:
        raise ValueError(_("kind is http, command or none."))
    if kind == "none":
        return {"kind": "none"}
    if kind == "http" and stack not in HTTP_STACKS:
        raise ValueError(_("A distroless base has no HTTP client to check with: give a command your binary "
                           "understands, or none (and probes on the component)."))
    clean = {"kind": kind,
             "interval": _seconds(value.get("interval", 30), 5, 3600, "interval"),
             "timeout": _seconds(value.get("timeout", 3), 1, 300, "timeout"),
             "start_period": _seconds(value.get("start_period", 10), 0, 3600, "start_period"),
             "retries": _seconds(value.get("retries", 3), 1, 10, "retries")}
    if kind == "http":
        path = value.get("path", "/")
        if not isinstance(path, str) or not _PATH.match(path):
            raise ValueError(_("path: an HTTP path starting with /, without quotes or spaces."))
        port = value.get("port")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
            raise ValueError(_("port: a number from 1 to 65535."))
        clean.update(path=path, port=port)
    else:
        command = value.get("command")
        if (not isinstance(command, list) or not 1 <= len(command) <= 20
                or not all(isinstance(a, str) and 0 < len(a) <= 500 and a.isprintable() for a in command)):
            raise ValueError(_("command: a list of 1 to 20 arguments, e.g. [\"/app/app\", \"-healthcheck\"]."))
        clean["command"] = command
    return clean


def _seconds(value, low: int, high: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(_("%(name)s: a whole number from %(low)s to %(high)s.") % {"name": name, "low": low,
                                                                                    "high": high})
    return value


def probe_command(stack: str, url: str) -> list[str]:
    if stack == "python":
        return ["python", "-c", f"import urllib.request; urllib.request.urlopen('{url}', timeout=3)"]
    if stack == "node":
        return ["node", "-e", f"require('http').get('{url}', r => process.exit(r.statusCode < 400 ? 0 : 1))"
                              ".on('error', () => process.exit(1))"]
    return ["curl", "-fsS", "-o", "/dev/null", url]


def render_healthcheck(clean: dict, stack: str, ports: list[int], artifact: str) -> list[str]:
    if clean["kind"] == "none":
        return ["# No HEALTHCHECK: liveness/readiness probes on the component check the service.", ""]
    if clean["kind"] == "http":
        port = clean["port"] or (ports[0] if ports else 8080)
        command = probe_command(stack, f"http://127.0.0.1:{port}{clean['path']}")
    else:
        command = clean["command"]
    options = (f"--interval={clean['interval']}s --timeout={clean['timeout']}s "
               f"--start-period={clean['start_period']}s --retries={clean['retries']}")
    return ["# Run by Docker and Podman; Kubernetes ignores it and uses the component probes.",
            f"HEALTHCHECK {options} \\",
            f"  CMD {json.dumps(command, ensure_ascii=False)}", ""]
