"""Server-side apply: create-or-update with field ownership recorded in managedFields.

What is modelled, because clients observe it:
- the applied configuration is merged into the live object (lists with a merge key are
  merged by key, other lists are replaced, as in structured-merge-diff);
- each Apply manager's owned fields are recorded in ``metadata.managedFields``
  (``fieldsType: FieldsV1``);
- fields a manager applied before and omits now are removed, unless another manager
  also owns them;
- a field owned by another Apply manager with a different value is a 409 conflict
  unless ``force=true``, which transfers ownership.
Update-operation managers are not tracked (they never cause conflicts here).
"""
from __future__ import annotations

import json

from .errors import ApiError
from .patching import MERGE, PRIMITIVE, list_strategy

_META_FIELDS = ("labels", "annotations", "finalizers", "ownerReferences")


def _key_token(item: dict, key: str) -> str:
    return "k:" + json.dumps({key: item.get(key)}, separators=(",", ":"), sort_keys=True)


def fields_tree(obj: dict, bucket: str, custom: bool, include_status: bool = False) -> dict:
    """The FieldsV1 set of everything ``obj`` specifies."""
    tree: dict = {}
    meta = obj.get("metadata") or {}
    meta_tree = {f"f:{k}": _tree(meta[k], bucket, ("metadata", k), custom) for k in _META_FIELDS if k in meta}
    if meta_tree:
        tree["f:metadata"] = meta_tree
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "metadata") or (key == "status" and not include_status):
            continue
        tree[f"f:{key}"] = _tree(value, bucket, (key,), custom)
    return tree


def _tree(value, bucket: str, path: tuple, custom: bool) -> dict:
    if isinstance(value, dict):
        return {f"f:{k}": _tree(v, bucket, path + (k,), custom) for k, v in value.items()}
    if isinstance(value, list) and not custom:
        strategy, key = list_strategy(bucket, path)
        if strategy == MERGE:
            return {_key_token(item, key): {".": {}, **_tree(item, bucket, path + ("[]",), custom)}
                    for item in value if isinstance(item, dict)}
        if strategy == PRIMITIVE:
            return {"v:" + json.dumps(v, separators=(",", ":")): {} for v in value}
    return {}


def leaves(tree: dict, prefix: tuple = ()) -> set[tuple[str, ...]]:
    out = set()
    for token, child in tree.items():
        if child:
            out |= leaves(child, prefix + (token,))
        else:
            out.add(prefix + (token,))
    return out


def _from_leaves(paths: set[tuple[str, ...]]) -> dict:
    tree: dict = {}
    for path in paths:
        node = tree
        for token in path:
            node = node.setdefault(token, {})
    return tree


_MISSING = object()


def _locate(obj, path: tuple[str, ...]):
    """(container, selector) of the value a FieldsV1 path names, or (None, None)."""
    current = obj
    for i, token in enumerate(path):
        last = i == len(path) - 1
        if token == ".":
            return None, None
        kind, _, rest = token.partition(":")
        if kind == "f" and isinstance(current, dict):
            if last:
                return current, rest
            current = current.get(rest, _MISSING)
        elif kind in ("k", "v") and isinstance(current, list):
            wanted = json.loads(rest)
            index = next((n for n, item in enumerate(current)
                          if (kind == "v" and item == wanted)
                          or (kind == "k" and isinstance(item, dict)
                              and all(item.get(k) == v for k, v in wanted.items()))), None)
            if index is None:
                return None, None
            if last or path[i + 1] == ".":
                return current, index
            current = current[index]
        else:
            return None, None
        if current is _MISSING:
            return None, None
    return None, None


def _value_at(obj, path):
    container, selector = _locate(obj, path)
    if container is None:
        return _MISSING
    if isinstance(container, dict):
        return container.get(selector, _MISSING)
    return container[selector]


def _delete_at(obj, path) -> None:
    container, selector = _locate(obj, path)
    if container is None:
        return
    if isinstance(container, dict):
        container.pop(selector, None)
    else:
        del container[selector]


def _merge(live, applied, bucket: str, path: tuple, custom: bool):
    if not isinstance(applied, dict) or not isinstance(live, dict):
        return applied
    for key, value in applied.items():
        sub = path + (key,)
        if value is None:
            live.pop(key, None)
        elif isinstance(value, dict):
            live[key] = _merge(live.get(key) if isinstance(live.get(key), dict) else {}, value, bucket, sub, custom)
        elif isinstance(value, list) and not custom and isinstance(live.get(key), list):
            strategy, merge_key = list_strategy(bucket, sub)
            if strategy == MERGE:
                merged = list(live[key])
                for item in value:
                    index = next((n for n, have in enumerate(merged) if isinstance(have, dict)
                                  and isinstance(item, dict) and have.get(merge_key) == item.get(merge_key)), None)
                    if index is None:
                        merged.append(item)
                    else:
                        merged[index] = _merge(merged[index], item, bucket, sub + ("[]",), custom)
                live[key] = merged
            elif strategy == PRIMITIVE:
                live[key] = live[key] + [v for v in value if v not in live[key]]
            else:
                live[key] = value
        else:
            live[key] = value
    return live


def server_side_apply(live: dict | None, applied: dict, *, manager: str, force: bool, bucket: str,
                      custom: bool, api_version: str, now: str, subresource: str = "") -> dict:
    """The object after applying ``applied`` as ``manager`` (``live`` is a private copy or None)."""
    status_apply = subresource == "status"
    new_tree = fields_tree(applied, bucket, custom, include_status=status_apply)
    if status_apply:
        new_tree = {"f:status": new_tree.get("f:status", {})}
    new_leaves = leaves(new_tree)
    entries = list(((live or {}).get("metadata") or {}).get("managedFields") or [])
    mine = next((e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"
                 and e.get("subresource", "") == subresource), None)
    others = [e for e in entries if e is not mine and e.get("operation") == "Apply"]

    if live is None:
        result = applied
    else:
        conflicts = []
        for entry in others:
            owned = leaves(entry.get("fieldsV1") or {})
            clash = {p for p in owned & new_leaves if p[-1] != "."
                     and _value_at(live, p) != _value_at(applied, p)}
            if clash and not force:
                conflicts += [(entry["manager"], p) for p in sorted(clash)]
            elif clash:
                entry["fieldsV1"] = _from_leaves(owned - clash)
        if conflicts:
            raise _conflict_error(conflicts)
        old_leaves = leaves(mine.get("fieldsV1") or {}) if mine else set()
        shared = set()
        for entry in others:
            shared |= leaves(entry.get("fieldsV1") or {})
        result = _merge(live, applied, bucket, (), custom)
        for path in sorted(old_leaves - new_leaves - shared, key=len, reverse=True):
            _delete_at(result, path if path[-1] != "." else path[:-1])

    entry = {"manager": manager, "operation": "Apply", "apiVersion": api_version, "time": now,
             "fieldsType": "FieldsV1", "fieldsV1": new_tree}
    if subresource:
        entry["subresource"] = subresource
    managed = [e for e in entries if e is not mine and (e.get("fieldsV1") or e.get("operation") != "Apply")]
    managed.append(entry)
    result.setdefault("metadata", {})["managedFields"] = managed
    return result


def _conflict_error(conflicts: list[tuple[str, tuple]]) -> ApiError:
    def dotted(path):
        return "".join("." + t[2:] if t.startswith("f:") else f"[{t[2:]}]" for t in path if t != ".")

    causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{m}"', "field": dotted(p)}
              for m, p in conflicts]
    lines = "\n".join(f'- {c["message"]}: {c["field"]}' for c in causes)
    noun = "conflict" if len(causes) == 1 else "conflicts"
    return ApiError(409, "Conflict", f"Apply failed with {len(causes)} {noun}: {lines}", {"causes": causes})
