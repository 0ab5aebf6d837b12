"""Sensitive values (Secret data, and fields an operator marks) never leave the server.

A value is sensitive when its JSON path in the Kubernetes object matches one of the
type's sensitive paths: for the core Secret always `data.*` and `stringData.*`, plus
FederatedType.sensitive_paths for any type. Paths are dotted keys; `*` is any key or
any list item, and `key[*]` is every item of that list, e.g.
`spec.template.spec.containers[*].env[*].value`. List positions are never allowed:
overrides insert and remove list items, so a position would not stay sensitive.
A value at or below a matching path is sensitive (a whole subtree is shown as one "***").

mask() replaces every sensitive value with "***" (pages, API, preview, diff, audit).
restore() is the only way back: "***" at a path means "keep the value stored at this
exact path of this same stored document" (the template, or the override operation with
the same target and operation path). A "***" anywhere else is refused (DomainError
naming the field), so a placeholder can never be filled from another path.
scrub() removes known sensitive values (and their base64 forms) from free text:
errors from member clusters, validation messages and log lines.
"""
import base64
import binascii
import copy
import json
import re

from django.utils.translation import gettext as _

from paas.errors import DomainError

REDACTED = "***"
BUILTIN = {("", "Secret"): ("data.*", "stringData.*")}
MIN_SCRUB = 4  # shorter values are not searched for in free text: they would mangle every message
_SEGMENT = re.compile(r"^(\*|[^.\[\]*]+)(\[\*\])*$")
_MISSING = object()


class PathError(ValueError):
    pass


# --- patterns ---------------------------------------------------------------------------

def parse(path: str) -> tuple[str, ...]:
    """'spec.containers[*].env[*].value' -> ('spec', 'containers', '*', 'env', '*', 'value')."""
    if not isinstance(path, str) or not path.strip():
        raise PathError(_("must be a dotted path such as data.* or spec.containers[*].env[*].value"))
    tokens = []
    for segment in path.strip().split("."):
        if not _SEGMENT.match(segment):
            raise PathError(_("'%(s)s' is not a key, '*' or key[*] (list positions are not allowed: "
                              "overrides move list items)") % {"s": segment})
        key, _sep, rest = segment.partition("[")
        if key.isdigit():
            raise PathError(_("'%(s)s' is a list position; use [*] for every item") % {"s": segment})
        tokens.append(key)
        tokens.extend("*" for _ in range(rest.count("*")))
    return tuple(tokens)


def patterns_for(ftype) -> tuple[tuple[str, ...], ...]:
    paths = list(BUILTIN.get((ftype.group, ftype.kind), ()))
    paths += [p for p in (getattr(ftype, "sensitive_paths", None) or ()) if isinstance(p, str)]
    out = []
    for p in paths:
        try:
            out.append(parse(p))
        except PathError:
            continue  # validated when saved; an old bad entry must not break reads
    return tuple(out)


def _match(pattern, path) -> bool:
    return all(p == "*" or p == str(t) for p, t in zip(pattern, path, strict=False))


def is_sensitive(patterns, path) -> bool:
    """At or below a sensitive path."""
    return any(len(p) <= len(path) and _match(p, path) for p in patterns)


def _above(patterns, path) -> bool:
    """Strictly above a sensitive path (a scalar here would end up where a secret belongs)."""
    return any(len(p) > len(path) and _match(p, path) for p in patterns)


def _hidden(patterns, path, node) -> bool:
    if is_sensitive(patterns, path):
        return True
    return not isinstance(node, dict | list) and node is not None and _above(patterns, path)


# --- masking ------------------------------------------------------------------------------

def mask(value, patterns, base=()):
    """A copy of `value` (found at `base`) with every sensitive value replaced by "***"."""
    if not patterns:
        return value
    if _hidden(patterns, base, value):
        return REDACTED
    if isinstance(value, dict):
        return {k: mask(v, patterns, (*base, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, patterns, (*base, i)) for i, v in enumerate(value)]
    return value


def _op_base(operation) -> tuple | None:
    from .render import pointer_tokens

    try:
        return tuple(pointer_tokens(operation.get("path")))
    except (ValueError, AttributeError, TypeError):
        return None


def mask_overrides(overrides, patterns):
    """Each operation's value masked at the operation's path (a bad path: all of it)."""
    if not patterns or not isinstance(overrides, list):
        return overrides
    out = []
    for override in overrides:
        if not isinstance(override, dict) or not isinstance(override.get("operations"), list):
            out.append(override)
            continue
        ops = []
        for op in override["operations"]:
            if isinstance(op, dict) and "value" in op:
                base = _op_base(op)
                op = {**op, "value": REDACTED if base is None else mask(op["value"], patterns, base)}
            ops.append(op)
        out.append({**override, "operations": ops})
    return out


def mask_status(status: dict, patterns) -> dict:
    """Status values read back (keyed by dotted path) masked like the object."""
    if not patterns or not isinstance(status, dict):
        return status
    return {k: mask(v, patterns, tuple(k.split("."))) for k, v in status.items()}


# --- restoring placeholders ---------------------------------------------------------------------

def _refuse(field: str):
    raise DomainError(_("%(f)s: \"***\" keeps a stored secret value, but none is stored at this path; "
                        "give the value") % {"f": field}, field=field)


def _child_field(field: str, key) -> str:
    return f"{field}[{key}]" if isinstance(key, int) else f"{field}.{key}"


def _same_item(new, old) -> bool:
    """List items are matched by position; items that carry a name must also keep it."""
    if isinstance(new, dict) and isinstance(old, dict) and ("name" in new or "name" in old):
        return new.get("name") == old.get("name")
    return True


def _restore(new, old, patterns, path, field):
    if new == REDACTED:
        if old is not _MISSING and (old == REDACTED or _hidden(patterns, path, old)):
            return copy.deepcopy(old)
        _refuse(field)
    if isinstance(new, dict):
        olds = old if isinstance(old, dict) else {}
        return {k: _restore(v, olds.get(k, _MISSING), patterns, (*path, k), _child_field(field, k))
                for k, v in new.items()}
    if isinstance(new, list):
        olds = old if isinstance(old, list) else []
        return [_restore(v, olds[i] if i < len(olds) and _same_item(v, olds[i]) else _MISSING, patterns,
                         (*path, i), _child_field(field, i)) for i, v in enumerate(new)]
    return new


def restore(new, old, patterns, *, field: str = "template", base=()):
    """`new` with each "***" replaced by the stored value at the same path of `old`."""
    return _restore(new, _MISSING if old is None else old, patterns, tuple(base), field)


def _target(override: dict) -> str:
    clusters = override.get("clusters")
    if isinstance(clusters, list) and all(isinstance(c, str) for c in clusters):
        clusters = sorted(set(clusters))
    return json.dumps({"clusters": clusters, "clusterSelector": override.get("clusterSelector")},
                      sort_keys=True, default=str)


def _stored_ops(overrides) -> dict:
    """(target, operation path) -> stored operations, in order."""
    found: dict = {}
    for override in overrides if isinstance(overrides, list) else ():
        if not isinstance(override, dict) or not isinstance(override.get("operations"), list):
            continue
        for op in override["operations"]:
            if isinstance(op, dict):
                found.setdefault((_target(override), op.get("path")), []).append(op)
    return found


def _has_placeholder(value) -> bool:
    if value == REDACTED:
        return True
    if isinstance(value, dict):
        return any(_has_placeholder(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_placeholder(v) for v in value)
    return False


def restore_overrides(new, old, patterns):
    """Overrides with "***" restored from the stored override with the same target (clusters or
    clusterSelector) and the same operation path; the n-th such operation from the n-th stored one."""
    if not isinstance(new, list):
        return new
    stored, used = _stored_ops(old), {}
    out = []
    for i, override in enumerate(new):
        if not isinstance(override, dict) or not isinstance(override.get("operations"), list):
            if _has_placeholder(override):
                _refuse(f"overrides[{i}]")
            out.append(override)
            continue
        ops = []
        for j, op in enumerate(override["operations"]):
            field = f"overrides[{i}].operations[{j}].value"
            if not isinstance(op, dict) or "value" not in op:
                if _has_placeholder(op):
                    _refuse(f"overrides[{i}].operations[{j}]")
                ops.append(op)
                continue
            key = (_target(override), op.get("path"))
            n = used[key] = used.get(key, -1) + 1
            candidates = stored.get(key, [])
            before = candidates[n].get("value", _MISSING) if n < len(candidates) else _MISSING
            base = _op_base(op)
            if base is None:
                if _has_placeholder(op["value"]):
                    _refuse(field)
                ops.append(op)
                continue
            ops.append({**op, "value": _restore(op["value"], before, patterns, base, field)})
        out.append({**override, "operations": ops})
    return out


# --- scrubbing free text -------------------------------------------------------------------------

def _leaves(value, out: set) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _leaves(v, out)
    elif isinstance(value, list):
        for v in value:
            _leaves(v, out)
    elif value is not None and not isinstance(value, bool) and value != REDACTED:
        out.add(str(value))


def _collect(value, patterns, path, out: set) -> None:
    if _hidden(patterns, path, value):
        _leaves(value, out)
    elif isinstance(value, dict):
        for k, v in value.items():
            _collect(v, patterns, (*path, k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _collect(v, patterns, (*path, i), out)


def values_of(patterns, *, template=None, overrides=None, objects=()) -> set[str]:
    """Every sensitive value in these documents, with its base64 encoding and decoding."""
    raw: set[str] = set()
    for doc in (template, *objects):
        if doc is not None:
            _collect(doc, patterns, (), raw)
    for override in overrides if isinstance(overrides, list) else ():
        for op in (override.get("operations") or ()) if isinstance(override, dict) else ():
            if isinstance(op, dict) and "value" in op:
                base = _op_base(op)
                if base is None:
                    _leaves(op["value"], raw)
                else:
                    _collect(op["value"], patterns, base, raw)
    out = set(raw)
    for value in raw:
        out.add(base64.b64encode(value.encode()).decode())
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError):
            continue
        out.add(decoded)
    return {v for v in out if len(v) >= MIN_SCRUB}


def scrub(text: str, values) -> str:
    """`text` with every known sensitive value replaced by "***" (longest first). Error texts are
    cut to a length before they get here, so a value's beginning at the very end goes too."""
    if not text or not values:
        return text
    ordered = sorted(values, key=len, reverse=True)
    for value in ordered:
        if value in text:
            text = text.replace(value, REDACTED)
    for value in ordered:
        for size in range(min(len(value) - 1, len(text)), MIN_SCRUB - 1, -1):
            if text.endswith(value[:size]):
                return text[:-size] + REDACTED
    return text


def resource_values(resource, *, objects=()) -> set[str]:
    patterns = patterns_for(resource.ftype)
    return values_of(patterns, template=resource.template, overrides=resource.overrides, objects=objects)


def validate_paths(paths) -> list[str]:
    """The operator's list of sensitive paths, checked (DomainError naming the entry)."""
    if paths in (None, ""):
        return []
    if not isinstance(paths, list):
        raise DomainError(_("sensitive_paths: must be a list of dotted paths"), field="sensitive_paths")
    cleaned = []
    for i, path in enumerate(paths):
        try:
            parse(path)
        except PathError as exc:
            raise DomainError(_("sensitive_paths[%(i)s]: %(e)s") % {"i": i, "e": exc},
                              field=f"sensitive_paths[{i}]") from None
        if path.strip() not in cleaned:
            cleaned.append(path.strip())
    if len(cleaned) > 100:
        raise DomainError(_("sensitive_paths: at most 100 paths"), field="sensitive_paths")
    return cleaned


def shown(resource) -> tuple:
    """(template, overrides) of a resource as anyone may see them."""
    patterns = patterns_for(resource.ftype)
    return mask(resource.template, patterns), mask_overrides(resource.overrides, patterns)


def _hidden_map(value, patterns, path, field, out: dict) -> None:
    if _hidden(patterns, path, value):
        out[field] = value
    elif isinstance(value, dict):
        for k, v in value.items():
            _hidden_map(v, patterns, (*path, k), _child_field(field, k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _hidden_map(v, patterns, (*path, i), _child_field(field, i), out)


def _sensitive_map(template, overrides, patterns) -> dict:
    out: dict = {}
    _hidden_map(template, patterns, (), "template", out)
    for i, override in enumerate(overrides if isinstance(overrides, list) else ()):
        for j, op in enumerate((override.get("operations") or ()) if isinstance(override, dict) else ()):
            if isinstance(op, dict) and "value" in op and (base := _op_base(op)) is not None:
                _hidden_map(op["value"], patterns, base, f"overrides[{i}].operations[{j}].value", out)
    return out


def changed_fields(patterns, *, before: tuple, after: tuple) -> list[str]:
    """Fields whose sensitive value was set, changed or removed (names only, for the audit trail:
    a masked before/after alone would not show that a secret changed)."""
    old, new = _sensitive_map(*before, patterns), _sensitive_map(*after, patterns)
    return sorted(k for k in old.keys() | new.keys() if old.get(k, _MISSING) != new.get(k, _MISSING))
