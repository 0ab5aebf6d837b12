"""Label and field selectors, parsed once per request and matched per object.

Label selectors follow ``k8s.io/apimachinery/pkg/labels`` syntax:
``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x,y)``, ``a``, ``!a``, ``a>1``, ``a<1``.
Equality and ``in`` requirements expose the values the store's label index can answer
directly, so a selective list touches only matching objects instead of every object.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import bad_request

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", ">", "<"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict) -> bool:
        op = self.op
        if op == "=":
            return labels.get(self.key) == self.values[0]
        if op == "in":
            return labels.get(self.key) in self.values
        if op == "!=":
            return labels.get(self.key) != self.values[0]
        if op == "notin":
            return labels.get(self.key) not in self.values
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        value = labels.get(self.key)
        try:
            number = int(value)
        except (TypeError, ValueError):
            return False
        return number > int(self.values[0]) if op == ">" else number < int(self.values[0])

    def index_values(self) -> tuple[str, ...] | None:
        """Values whose (key, value) index entries cover every match, or None when not indexable."""
        return self.values if self.op in ("=", "in") else None


class LabelSelector:
    def __init__(self, requirements: list[Requirement]):
        self.requirements = requirements

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: dict | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        parts = []
        for r in self.requirements:
            if r.op == "=":
                parts.append(f"{r.key}={r.values[0]}")
            elif r.op == "!=":
                parts.append(f"{r.key}!={r.values[0]}")
            elif r.op in ("in", "notin"):
                parts.append(f"{r.key} {r.op} ({','.join(r.values)})")
            elif r.op == "exists":
                parts.append(r.key)
            elif r.op == "!":
                parts.append(f"!{r.key}")
            else:
                parts.append(f"{r.key}{r.op}{r.values[0]}")
        return ",".join(parts)


EVERYTHING = LabelSelector([])

_TOKEN = re.compile(
    rf"\s*(?:(?P<not>!)\s*(?P<nkey>{_KEY})"
    rf"|(?P<key>{_KEY})(?:\s*(?P<op>==|=|!=|>|<)\s*(?P<value>{_VALUE})"
    rf"|\s+(?P<setop>in|notin)\s*\((?P<set>[^)]*)\))?)\s*(?:,|$)"
)


def parse_label_selector(text: str | None) -> LabelSelector:
    if not text or not text.strip():
        return EVERYTHING
    requirements = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise bad_request(f'unable to parse requirement: found \'{text[pos:pos + 20]}\', '
                              f'expected: identifier (selector "{text}")')
        pos = m.end()
        if m.group("not"):
            requirements.append(Requirement(m.group("nkey"), "!"))
        elif m.group("op"):
            op = "=" if m.group("op") == "==" else m.group("op")
            value = m.group("value")
            if op in (">", "<") and not value.lstrip("-").isdigit():
                raise bad_request(f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer (selector \"{text}\")")
            requirements.append(Requirement(m.group("key"), op, (value,)))
        elif m.group("setop"):
            values = tuple(sorted({v.strip() for v in m.group("set").split(",") if v.strip()}))
            requirements.append(Requirement(m.group("key"), m.group("setop"), values))
        else:
            requirements.append(Requirement(m.group("key"), "exists"))
    return LabelSelector(requirements)


def from_label_selector_object(selector: dict | None) -> LabelSelector:
    """A ``metav1.LabelSelector`` (matchLabels/matchExpressions) as used in workload specs.

    An empty selector object matches everything, as for deployments; callers that need
    "nil matches nothing" semantics check for None themselves.
    """
    if not selector:
        return EVERYTHING
    requirements = [Requirement(k, "=", (str(v),)) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or ():
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(expr.get("operator"))
        if op is None:
            raise bad_request(f"{expr.get('operator')!r} is not a valid label selector operator")
        requirements.append(Requirement(expr["key"], op, tuple(sorted(expr.get("values") or ()))))
    return LabelSelector(requirements)


def selector_object_to_string(selector: dict | None) -> str:
    return str(from_label_selector_object(selector))


# -- field selectors ----------------------------------------------------------------------

_COMMON_FIELDS = {"metadata.name", "metadata.namespace"}
# Field labels each built-in resource supports, as in the real API server's field label
# conversion functions. Anything else is a 400, so product code using an unsupported
# field fails here as it would against a real cluster.
SUPPORTED_FIELDS = {
    "pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
    "events": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
               "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
               "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    "secrets": {"type"},
    "namespaces": {"status.phase"},
    "nodes": {"spec.unschedulable"},
    "replicasets.apps": {"status.replicas"},
}
# Field labels that name a different path in the object (an Event's "source" is its source.component).
FIELD_PATHS = {("events", "source"): ("source", "component")}


@dataclass(frozen=True)
class FieldRequirement:
    path: tuple[str, ...]
    equal: bool
    value: str

    def matches(self, obj: dict) -> bool:
        current = obj
        for part in self.path:
            current = current.get(part) if isinstance(current, dict) else None
            if current is None:
                break
        if isinstance(current, bool):
            current = "true" if current else "false"
        text = "" if current is None else str(current)
        return (text == self.value) == self.equal


class FieldSelector:
    def __init__(self, requirements: list[FieldRequirement]):
        self.requirements = requirements

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: dict) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def exact(self, field: str) -> str | None:
        """The value an ``=`` requirement pins ``field`` to, for direct lookups."""
        for r in self.requirements:
            if r.equal and ".".join(r.path) == field:
                return r.value
        return None


EVERY_FIELD = FieldSelector([])


def parse_field_selector(text: str | None, bucket: str) -> FieldSelector:
    if not text or not text.strip():
        return EVERY_FIELD
    allowed = _COMMON_FIELDS | SUPPORTED_FIELDS.get(bucket, set())
    requirements = []
    for term in text.split(","):
        term = term.strip()
        if not term:
            continue
        m = re.fullmatch(r"([^=!]+?)\s*(==|=|!=)\s*(.*)", term)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = m.groups()
        if field not in allowed:
            raise bad_request(f'field label not supported: {field}')
        path = FIELD_PATHS.get((bucket, field)) or tuple(field.split("."))
        requirements.append(FieldRequirement(path, op != "!=", value))
    return FieldSelector(requirements)
