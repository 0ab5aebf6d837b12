"""Decoding YAML request bodies (server-side apply, ``application/yaml``), fast and bounded.

Speed: clients send JSON text even as ``application/apply-patch+yaml`` (the official
client and kubectl both do), and pure-Python ``yaml.safe_load`` on it was most of the
simulator's CPU time under a federation benchmark. JSON is YAML, so a body is first
tried with ``json.loads`` (C); only real YAML goes to libyaml's C loader (pure-Python
SafeLoader where PyYAML was built without it). For JSON text this is also closer to
kube-apiserver, whose YAML decoder reads ``1e-05`` as a number where PyYAML's YAML 1.1
rules read a string.

Safety: a "billion laughs" document is a few hundred bytes whose aliases expand to
gigabytes once something walks the result (storing it does). Kubernetes clients never
send aliases, so any alias is refused outright while constructing, before anything
expands. Nesting depth is bounded by libyaml itself (1,000 levels) and by Python's
recursion limit on the JSON and pure-Python paths; both become decode errors (400),
never a crash.
"""
from __future__ import annotations

import json

import yaml

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DecodeError(ValueError):
    """The body is not a YAML document the simulator accepts; the message says why."""


class _NoAliasLoader(_BaseLoader):
    """A safe loader that refuses aliases (and so merge keys on them, and alias bombs).

    The composer hands back the anchored node itself for every alias, so a node met a
    second time by the constructor can only be an alias."""

    def construct_object(self, node, deep=False):
        if node in self.constructed_objects or node in self.recursive_objects:
            raise DecodeError("yaml: aliases are not accepted in request bodies")
        return super().construct_object(node, deep)


def _not_json(constant: str):
    # NaN and Infinity are Python's JSON extensions; YAML reads them as strings.
    raise ValueError(constant)


def decode_yaml(raw: bytes | str):
    """The value of a YAML (or JSON) document; DecodeError when it cannot be accepted."""
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise DecodeError(str(exc)) from None
    try:
        return json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        pass  # not JSON (or JSON too deep for json's C parser): let YAML decide and word the error
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a safe loader, aliases refused
    except yaml.YAMLError as exc:
        raise DecodeError(str(exc)) from None
    except RecursionError:
        raise DecodeError("yaml: exceeded maximum nesting depth") from None
