"""The patch formats of the Kubernetes API: JSON merge patch (RFC 7386), strategic merge
patch, and JSON patch (RFC 6902). Server-side apply lives in ``apply.py``.

Strategic merge needs to know, for each list, whether it is merged by a key (containers
by ``name``, ports by ``containerPort``...) or replaced. Real servers read that from Go
struct tags; here ``list_strategy`` encodes the same facts for the fields workloads use.
kubectl's client-side apply sends the directives handled here (``$patch``,
``$setElementOrder/``, ``$deleteFromPrimitiveList/``, ``$retainKeys``).

All functions take a private, mutable copy of the original (``Stored.thaw()``) and may
reuse it in the result.
"""
from __future__ import annotations

import json

from .errors import ApiError, bad_request

_POD_SPEC_NAMED_LISTS = {"containers", "initContainers", "ephemeralContainers", "volumes",
                         "imagePullSecrets", "resourceClaims", "schedulingGates"}
_CONTAINER_LISTS = {"containers", "initContainers", "ephemeralContainers"}
_BY_FIELD = {"env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
             "resizePolicy": "resourceName", "conditions": "type", "hostAliases": "ip",
             "topologySpreadConstraints": "topologyKey"}

MERGE, PRIMITIVE, REPLACE = "merge", "primitive", "replace"


def list_strategy(bucket: str, path: tuple[str, ...]) -> tuple[str, str | None]:
    """How the list at ``path`` ("[]" marks a list element) merges: (strategy, merge key)."""
    name = path[-1]
    parent = path[-2] if len(path) > 1 else ""
    if parent == "metadata":
        if name == "finalizers":
            return PRIMITIVE, None
        if name == "ownerReferences":
            return MERGE, "uid"
        return REPLACE, None
    if name in _POD_SPEC_NAMED_LISTS and parent == "spec":
        return MERGE, "name"
    if name == "ports":
        if parent == "[]" and len(path) > 2 and path[-3] in _CONTAINER_LISTS:
            return MERGE, "containerPort"
        if bucket == "services" and path == ("spec", "ports"):
            return MERGE, "port"
        return REPLACE, None
    if name == "addresses" and bucket == "nodes" and parent == "status":
        return MERGE, "type"
    key = _BY_FIELD.get(name)
    if key is not None and (name != "env" or parent == "[]"):
        return MERGE, key
    return REPLACE, None


# -- JSON merge patch ---------------------------------------------------------------------

def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return patch
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- strategic merge patch ----------------------------------------------------------------

_DELETE = object()


def strategic_merge_patch(original: dict, patch: dict, bucket: str) -> dict:
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch must be a JSON object")
    merged = _smp_map(original, patch, bucket, ())
    return {} if merged is _DELETE else merged


def _strip(value):
    """Copy a value from a patch into the result, dropping patch directives."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items()
                if not (k == "$patch" or k == "$retainKeys" or k.startswith("$setElementOrder/")
                        or k.startswith("$deleteFromPrimitiveList/"))}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _smp_map(orig, patch: dict, bucket: str, path: tuple):
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return _DELETE
    result = orig if isinstance(orig, dict) else {}
    orders: dict[str, list] = {}
    removals: dict[str, list] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            removals[key.split("/", 1)[1]] = value
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _smp_map(result.get(key), value, bucket, path + (key,))
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _smp_list(result.get(key), value, bucket, path + (key,))
        else:
            result[key] = value
    for field, values in removals.items():
        if isinstance(result.get(field), list):
            result[field] = [v for v in result[field] if v not in values]
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _reorder(result[field], order, list_strategy(bucket, path + (field,))[1])
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _smp_list(orig, patch: list, bucket: str, path: tuple) -> list:
    strategy, key = list_strategy(bucket, path)
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [_strip(item) for item in patch if not (isinstance(item, dict) and item.get("$patch"))]
    current = orig if isinstance(orig, list) else []
    if strategy == REPLACE:
        return _strip(patch)
    if strategy == PRIMITIVE:
        return current + [v for v in patch if v not in current]
    result = list(current)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise bad_request(f"map: {item!r} does not contain declared merge key: {key}")
        index = next((i for i, have in enumerate(result)
                      if isinstance(have, dict) and have.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_strip(item))
        else:
            merged = _smp_map(result[index], item, bucket, path + ("[]",))
            if merged is _DELETE:
                del result[index]
            else:
                result[index] = merged
    return result


def _reorder(items: list, order: list, key: str | None) -> list:
    def ident(item):
        return item.get(key) if key and isinstance(item, dict) else json.dumps(item, sort_keys=True)

    position = {ident(o): i for i, o in enumerate(order)}
    listed = sorted((i for i in items if ident(i) in position), key=lambda i: position[ident(i)])
    return listed + [i for i in items if ident(i) not in position]


# -- JSON patch ---------------------------------------------------------------------------

def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _patch_error(f'invalid JSON pointer "{path}"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _patch_error(message: str) -> ApiError:
    return ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {message}")


def _container(doc, parts: list[str]):
    """The dict/list holding the last pointer segment."""
    current = doc
    for part in parts[:-1]:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise _patch_error(f'doc is missing path: "/{"/".join(parts)}"')
    return current


def _index(container: list, part: str, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return len(container)
    if not part.isdigit():
        raise _patch_error(f'invalid array index "{part}"')
    index = int(part)
    if index > len(container) or (index == len(container) and not allow_end):
        raise _patch_error(f"array index {index} out of bounds")
    return index


def _get(doc, parts):
    if not parts:
        return doc
    container = _container(doc, parts)
    last = parts[-1]
    if isinstance(container, dict):
        if last not in container:
            raise _patch_error(f'doc is missing key: "/{"/".join(parts)}"')
        return container[last]
    if isinstance(container, list):
        return container[_index(container, last, False)]
    raise _patch_error(f'doc is missing path: "/{"/".join(parts)}"')


def _remove(doc, parts):
    container = _container(doc, parts)
    last = parts[-1]
    if isinstance(container, dict):
        if last not in container:
            raise _patch_error(f'unable to remove nonexistent key: {last}: missing value')
        return container.pop(last)
    if isinstance(container, list):
        return container.pop(_index(container, last, False))
    raise _patch_error("remove target is not a container")


def _add(doc, parts, value):
    if not parts:
        return value
    container = _container(doc, parts)
    last = parts[-1]
    if isinstance(container, dict):
        container[last] = value
    elif isinstance(container, list):
        container.insert(_index(container, last, True), value)
    else:
        raise _patch_error("add target is not a container")
    return doc


def json_patch(doc, operations) -> dict:
    if not isinstance(operations, list):
        raise bad_request("json patch must be a JSON array of operations")
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise _patch_error(f"invalid operation {op!r}")
        kind = op["op"]
        parts = _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, parts, op.get("value"))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            _get(doc, parts)  # must exist
            if parts:
                container = _container(doc, parts)
                if isinstance(container, list):
                    container[_index(container, parts[-1], False)] = op.get("value")
                else:
                    container[parts[-1]] = op.get("value")
            else:
                doc = op.get("value")
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = _remove(doc, source) if kind == "move" else json.loads(json.dumps(_get(doc, source)))
            doc = _add(doc, parts, value)
        elif kind == "test":
            if _get(doc, parts) != op.get("value"):
                raise _patch_error(f'testing value {op["path"]} failed')
        else:
            raise _patch_error(f'unexpected kind of operation: "{kind}"')
    if not isinstance(doc, dict):
        raise _patch_error("patch did not produce an object")
    return doc
