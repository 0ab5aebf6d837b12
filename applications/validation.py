"""Checks of what a user gives for an application's component. Pure.

`component(data, application_name=...)` returns the cleaned settings or raises a DomainError
whose field is the path of the offending value ("ports[1].port", "resources.limits.cpu",
"liveness_probe.port") and whose message starts with that path, as federation's do. The
same function checks the components of an explicit revision spec, with a prefix
("components[2].").
"""
import re
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from kubernetes.utils import parse_quantity

from paas.errors import DomainError

from .models import ENVIRONMENT_KINDS, Component, default_replicas

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
# Kubernetes object names of Services must be DNS-1035 labels: a letter first, at most 63.
OBJECT_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
PORT_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")  # IANA service name, as Kubernetes
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]{0,252}$")
IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,499}$")
PROTOCOLS = ("TCP", "UDP", "SCTP")
PROBE_TYPES = ("http", "tcp", "exec")
PROBE_TIMINGS = {"initial_delay_seconds": (0, 3600), "period_seconds": (1, 3600), "timeout_seconds": (1, 3600),
                 "failure_threshold": (1, 100)}
RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")
# Far above any pod, far below what breaks arithmetic or PostgreSQL's integers.
RESOURCE_MAX = {"cpu": Decimal(1024), "memory": Decimal(16 * 2**40), "ephemeral-storage": Decimal(64 * 2**40)}
MAX_REPLICAS = 10_000  # as federation's replica counts
MAX_LIST = 200
MAX_STRING = 32 * 1024
MAX_CONFIG_BYTES = 512 * 1024  # a ConfigMap holds at most 1 MiB
MAX_CPUSET = 256
FIELDS = ("name", "workload_kind", "image", "command", "args", "ports", "env", "config_files", "resources",
          "cpuset_cores", "liveness_probe", "readiness_probe", "replicas")


def fail(path: str, problem: str):
    raise DomainError(_("%(path)s: %(problem)s") % {"path": path, "problem": problem}, field=path)


def _int(value, path: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        fail(path, _("must be a whole number from %(low)s to %(high)s") % {"low": low, "high": high})
    return value


def _string(value, path: str, *, limit: int = MAX_STRING, empty: bool = True) -> str:
    if not isinstance(value, str):
        fail(path, _("must be a string"))
    if not empty and not value.strip():
        fail(path, _("is required"))
    if len(value) > limit:
        fail(path, _("is longer than %(n)s characters") % {"n": limit})
    return value


def _list(value, path: str, *, limit: int = MAX_LIST) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        fail(path, _("must be a list"))
    if len(value) > limit:
        fail(path, _("has more than %(n)s items") % {"n": limit})
    return value


def _object(value, path: str, keys) -> dict:
    if not isinstance(value, dict):
        fail(path, _("must be an object"))
    for key in value:
        if key not in keys:
            fail(f"{path}.{key}", _("unknown field"))
    return value


def object_name(application_name: str, component_name: str) -> str:
    return f"{application_name}-{component_name}"


def name(value, *, application_name: str, path: str = "name") -> str:
    value = _string(value, path, limit=40, empty=False)
    if not DNS_LABEL.match(value):
        fail(path, _("use 1-40 lowercase letters, digits and dashes, starting and ending with a letter or digit"))
    combined = object_name(application_name, value)
    if not OBJECT_NAME.match(combined):
        fail(path, _("%(name)s (application-component) names the Kubernetes objects: it must start with a "
                     "letter and be at most 63 characters") % {"name": combined})
    return value


def image(value, path: str = "image") -> str:
    value = _string(value, path, limit=500, empty=False).strip()
    if not IMAGE.match(value) or value.count("@") > 1 or "//" in value:
        fail(path, _("is not an image reference ([registry/]repository[:tag][@sha256:digest])"))
    return value


def _strings(value, path: str) -> list[str]:
    items = _list(value, path, limit=100)
    return [_string(item, f"{path}[{i}]", limit=4096) for i, item in enumerate(items)]


def ports(value, path: str = "ports") -> list[dict]:
    out, names, numbers = [], set(), set()
    for i, item in enumerate(_list(value, path, limit=20)):
        where = f"{path}[{i}]"
        item = _object(item, where, ("name", "port", "protocol"))
        port_name = _string(item.get("name", ""), f"{where}.name", limit=15) or f"port-{i}"
        if not PORT_NAME.match(port_name):
            fail(f"{where}.name", _("use up to 15 lowercase letters, digits and dashes, with at least one letter"))
        number = _int(item.get("port"), f"{where}.port", 1, 65535)
        protocol = item.get("protocol", "TCP")
        if protocol not in PROTOCOLS:
            fail(f"{where}.protocol", _("must be TCP, UDP or SCTP"))
        if port_name in names:
            fail(f"{where}.name", _("is used twice"))
        if (number, protocol) in numbers:
            fail(f"{where}.port", _("is used twice"))
        names.add(port_name)
        numbers.add((number, protocol))
        out.append({"name": port_name, "port": number, "protocol": protocol})
    return out


def env_name(value, path: str) -> str:
    value = _string(value, path, limit=253, empty=False)
    if not ENV_NAME.match(value):
        fail(path, _("use letters, digits, '_', '-' and '.', not starting with a digit"))
    return value


def env(value, path: str = "env") -> list[dict]:
    out, seen = [], set()
    for i, item in enumerate(_list(value, path)):
        where = f"{path}[{i}]"
        item = _object(item, where, ("name", "value"))
        variable = env_name(item.get("name"), f"{where}.name")
        if variable in seen:
            fail(f"{where}.name", _("is set twice"))
        seen.add(variable)
        out.append({"name": variable, "value": _string(item.get("value", ""), f"{where}.value")})
    return out


def secret_env(value, path: str = "secret_env") -> dict:
    """{NAME: value}; a None value means "keep the stored one" (resolved by the service)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        fail(path, _("must map variable names to values"))
    if len(value) > MAX_LIST:
        fail(path, _("has more than %(n)s items") % {"n": MAX_LIST})
    out = {}
    for key, secret in value.items():
        env_name(key, f"{path}.{key}")
        out[key] = None if secret is None else _string(secret, f"{path}.{key}")
    return out


def config_files(value, path: str = "config_files") -> list[dict]:
    out, seen, total = [], set(), 0
    for i, item in enumerate(_list(value, path, limit=50)):
        where = f"{path}[{i}]"
        item = _object(item, where, ("path", "content"))
        file_path = _string(item.get("path"), f"{where}.path", limit=255, empty=False)
        parts = file_path.split("/")
        if not file_path.startswith("/") or file_path.endswith("/") or ".." in parts or "" in parts[1:] \
                or "\\" in file_path:
            fail(f"{where}.path", _("must be an absolute file path without '..', e.g. /etc/app/application.yaml"))
        if file_path in seen:
            fail(f"{where}.path", _("is used twice"))
        seen.add(file_path)
        content = _string(item.get("content", ""), f"{where}.content", limit=MAX_CONFIG_BYTES)
        total += len(content.encode("utf-8"))
        if total > MAX_CONFIG_BYTES:
            fail(f"{where}.content", _("the config files add up to more than 512 KiB"))
        out.append({"path": file_path, "content": content})
    return out


def quantity(value, path: str, resource: str) -> Decimal:
    if not isinstance(value, str | int) or isinstance(value, bool):
        fail(path, _("must be a Kubernetes quantity such as 500m, 2, 512Mi or 1Gi"))
    try:
        amount = parse_quantity(value)
    except (ValueError, TypeError, InvalidOperation, ArithmeticError):
        fail(path, _("must be a Kubernetes quantity such as 500m, 2, 512Mi or 1Gi"))
    if amount < 0 or amount > RESOURCE_MAX[resource]:
        fail(path, _("is out of range"))
    return amount


def resources(value, path: str = "resources") -> dict:
    value = _object(value or {}, path, ("requests", "limits"))
    out, amounts = {}, {}
    for part in ("requests", "limits"):
        given = _object(value.get(part) or {}, f"{path}.{part}", RESOURCE_NAMES)
        cleaned = {}
        for resource, amount in given.items():
            if amount in (None, ""):
                continue
            amounts[(part, resource)] = quantity(amount, f"{path}.{part}.{resource}", resource)
            cleaned[resource] = str(amount)
        if cleaned:
            out[part] = cleaned
    for resource in RESOURCE_NAMES:
        low, high = amounts.get(("requests", resource)), amounts.get(("limits", resource))
        if low is not None and high is not None and high < low:
            fail(f"{path}.limits.{resource}", _("is below the request (%(r)s)") % {"r": out["requests"][resource]})
    return out


def probe(value, path: str, port_names: set) -> dict:
    if value in (None, {}):
        return {}
    value = _object(value, path, ("type", "path", "port", "command", *PROBE_TIMINGS))
    kind = value.get("type")
    if kind not in PROBE_TYPES:
        fail(f"{path}.type", _("must be http, tcp or exec"))
    out = {"type": kind}
    if kind in ("http", "tcp"):
        port = value.get("port")
        if isinstance(port, str):
            if port not in port_names:
                fail(f"{path}.port", _("names no port of this component"))
            out["port"] = port
        else:
            out["port"] = _int(port, f"{path}.port", 1, 65535)
    if kind == "http":
        probe_path = _string(value.get("path", "/"), f"{path}.path", limit=1000) or "/"
        if not probe_path.startswith("/"):
            fail(f"{path}.path", _("must start with /"))
        out["path"] = probe_path
    if kind == "exec":
        command = _strings(value.get("command"), f"{path}.command")
        if not command:
            fail(f"{path}.command", _("is required for an exec probe"))
        out["command"] = command
    for key, (low, high) in PROBE_TIMINGS.items():
        if value.get(key) is not None:
            out[key] = _int(value[key], f"{path}.{key}", low, high)
    return out


def replicas(value, path: str = "replicas") -> dict:
    value = _object(value if value is not None else {}, path, ENVIRONMENT_KINDS)
    out = default_replicas()
    for kind, count in value.items():
        out[kind] = _int(count, f"{path}.{kind}", 0, MAX_REPLICAS)
    return out


def component(data: dict, *, application_name: str, prefix: str = "") -> dict:
    """The cleaned settings of one component (every field of FIELDS present)."""
    data = _object(data, prefix.rstrip(".") or "component", (*FIELDS, "secret_env"))
    kind = data.get("workload_kind", Component.WorkloadKind.DEPLOYMENT)
    if kind not in Component.WorkloadKind.values:
        fail(f"{prefix}workload_kind", _("must be deployment or cloneset"))
    cleaned_ports = ports(data.get("ports"), f"{prefix}ports")
    port_names = {p["name"] for p in cleaned_ports}
    cleaned = {
        "name": name(data.get("name"), application_name=application_name, path=f"{prefix}name"),
        "workload_kind": kind,
        "image": image(data.get("image"), f"{prefix}image"),
        "command": _strings(data.get("command"), f"{prefix}command"),
        "args": _strings(data.get("args"), f"{prefix}args"),
        "ports": cleaned_ports,
        "env": env(data.get("env"), f"{prefix}env"),
        "config_files": config_files(data.get("config_files"), f"{prefix}config_files"),
        "resources": resources(data.get("resources"), f"{prefix}resources"),
        "cpuset_cores": _int(data.get("cpuset_cores", 0), f"{prefix}cpuset_cores", 0, MAX_CPUSET),
        "liveness_probe": probe(data.get("liveness_probe"), f"{prefix}liveness_probe", port_names),
        "readiness_probe": probe(data.get("readiness_probe"), f"{prefix}readiness_probe", port_names),
        "replicas": replicas(data.get("replicas"), f"{prefix}replicas"),
    }
    if cleaned["cpuset_cores"] and not cleaned["resources"].get("limits", {}).get("memory"):
        # Guaranteed QoS (what the CPU manager needs) asks memory requests = limits: without a
        # memory figure there is nothing to pin both to.
        fail(f"{prefix}resources.limits.memory", _("is required with exclusive cpuset cores (guaranteed QoS)"))
    return cleaned
