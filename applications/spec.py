"""A revision's spec: what it is made of, its hash, and the field-by-field diff of two. Pure.

Spec shape (components sorted by name):
  {"components": [{"name", "workload_kind", "image": "<host>/<repo>@sha256:…", "command", "args",
                   "ports", "env", "secret_env": {"names": [...], "version": "<hmac>"},
                   "config_files", "resources", "cpuset_cores", "liveness_probe", "readiness_probe",
                   "replicas": {"dev": 1, "test": 1, "pre": 2, "prod": 3}}]}

Replicas are kept for every environment kind, so a revision promoted from test to prod is the
same document (same hash); the instance's environment picks its count when it is rendered.
Secret env is there by reference only: names and a keyed fingerprint of the values, whose
encrypted copy the revision row holds (AppRevision.secret_values).
"""
import hashlib
import json

from . import secrets


def component_spec(cleaned: dict, *, image: str, secret_values: dict) -> dict:
    spec = {key: value for key, value in cleaned.items() if key != "secret_env"}
    spec["image"] = image
    spec["secret_env"] = {"names": sorted(secret_values), "version": secrets.version(secret_values)}
    return spec


def build(components: list[dict]) -> dict:
    return {"components": sorted(components, key=lambda c: c["name"])}


def spec_hash(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def images(spec: dict) -> list[str]:
    return [c["image"] for c in (spec or {}).get("components", [])]


# --- diff -----------------------------------------------------------------------------------

def _key(item) -> str | None:
    if isinstance(item, dict):
        for key in ("name", "path"):
            if isinstance(item.get(key), str):
                return key
    return None


def _flatten(value, path: str, out: dict) -> None:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            _flatten(value[key], f"{path}.{key}" if path else key, out)
    elif isinstance(value, list) and value and all(_key(item) for item in value):
        # Lists of named things (components, ports, env, config files) compare by name, so
        # inserting one does not make every later entry "changed".
        for item in value:
            key = _key(item)
            rest = {k: v for k, v in item.items() if k != key}
            _flatten(rest if rest else True, f"{path}[{item[key]}]", out)
    else:
        out[path] = value


def flatten(spec: dict) -> dict:
    out: dict = {}
    _flatten(spec or {}, "", out)
    return out


def diff(before: dict, after: dict) -> list[dict]:
    """[{path, before, after}] for every leaf that differs (None where a side lacks it)."""
    old, new = flatten(before), flatten(after)
    return [{"path": path, "before": old.get(path), "after": new.get(path)}
            for path in sorted(set(old) | set(new)) if old.get(path) != new.get(path)]
