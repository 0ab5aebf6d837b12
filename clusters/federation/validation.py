"""Checks of what a user submits: template, placement and overrides.

Every problem is a DomainError whose field is the path of the offending input
(e.g. "placement.replicaScheduling.weights.sim-9" or
"overrides[1].operations[0].path") and whose message starts with that path, so
pages and API show exactly where the mistake is. Pure, given a Topology.
"""
import json
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from paas.errors import DomainError

from . import labels as label_selectors
from . import placement as placement_mod
from .render import PROTECTED_PATHS, SERVER_FIELDS, RenderError, pointer_tokens, render

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MAX_TEMPLATE_BYTES = 256 * 1024
PLACEMENT_KEYS = (*placement_mod.SELECTION_KEYS, "labelSelector", "replicaScheduling")
SCHEDULING_KEYS = ("type", "totalReplicas", "weights", "min", "max")
OPS = ("add", "replace", "remove")
# Replica counts and weights: far above any real fleet, far below PostgreSQL's int4 (the
# planned share is an IntegerField) — 10**30 used to reach the database as a 500.
MAX_COUNT = 10_000
RESERVED_PREFIX = "paas.io/"


@dataclass
class Topology:
    """All clusters (ClusterInfo.bound relative to one environment) and the known slugs."""

    clusters: list
    environment: str  # "tenant/env", for messages
    cells: set = field(default_factory=set)
    zones: set = field(default_factory=set)
    regions: set = field(default_factory=set)

    def bound(self) -> list:
        return [c for c in self.clusters if c.bound]

    def cluster(self, slug):
        return next((c for c in self.clusters if c.slug == slug), None)


def fail(path: str, problem: str):
    raise DomainError(_("%(path)s: %(problem)s") % {"path": path, "problem": problem}, field=path)


def _unknown(kind: str) -> str:
    return {"cluster": _("unknown cluster"), "cell": _("unknown cell"), "zone": _("unknown zone"),
            "region": _("unknown region")}[kind]


def _not_bound(kind: str) -> str:
    # One sentence per kind: translations need the noun inside the sentence, not interpolated.
    return {"cluster": _("cluster %(slug)s is not bound to environment %(env)s"),
            "cell": _("cell %(slug)s is not bound to environment %(env)s"),
            "zone": _("zone %(slug)s is not bound to environment %(env)s"),
            "region": _("region %(slug)s is not bound to environment %(env)s")}[kind]


# --- template ---------------------------------------------------------------------

def validate_template(ftype, name: str, template) -> dict:
    """The template to store: kind/apiVersion/name checked, namespace and server fields dropped."""
    if not isinstance(template, dict):
        fail("template", _("must be a JSON/YAML object (a Kubernetes manifest)"))
    if len(json.dumps(template)) > MAX_TEMPLATE_BYTES:
        fail("template", _("is larger than 256 KiB"))
    if template.get("apiVersion") != ftype.api_version:
        fail("template.apiVersion", _("must be %(v)s for %(kind)s") % {"v": ftype.api_version, "kind": ftype.kind})
    if template.get("kind") != ftype.kind:
        fail("template.kind", _("must be %(kind)s") % {"kind": ftype.kind})
    if not name or len(name) > 253 or not NAME_RE.match(name):
        fail("name", _("use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"))
    meta = template.get("metadata", {})
    if not isinstance(meta, dict):
        fail("template.metadata", _("must be an object"))
    if meta.get("name", name) != name:
        fail("template.metadata.name", _("must be %(name)s, the resource's name") % {"name": name})
    for key in ("labels", "annotations"):
        values = meta.get(key, {})
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            fail(f"template.metadata.{key}", _("must map names to string values"))
        for item in values:
            if _reserved(item):
                fail(f"template.metadata.{key}.{item}", _("the paas.io/ prefix is reserved for the platform"))
    if "spec" in template and not isinstance(template["spec"], dict):
        fail("template.spec", _("must be an object"))
    if ftype.has_replicas:
        replicas, path = template, "template"
        for part in ftype.replicas_path.split("."):
            # The replica share is written at this path when rendering: every step must be an object.
            if not isinstance(replicas, dict):
                fail(path, _("must be an object"))
            replicas, path = replicas.get(part), f"{path}.{part}"
            if replicas is None:
                break
        if replicas is not None:
            _count(replicas, f"template.{ftype.replicas_path}")
    if ftype.kind == "Secret":
        for key in ("data", "stringData"):
            values = template.get(key, {})
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                fail(f"template.{key}", _("must map keys to string values"))
    cleaned = {k: v for k, v in template.items() if k != "status"}
    meta = {k: v for k, v in meta.items() if k not in SERVER_FIELDS and k != "namespace"}
    meta["name"] = name
    cleaned["metadata"] = meta
    return cleaned


# --- placement --------------------------------------------------------------------

def _check_slug(topology: Topology, kind: str, slug, path: str) -> None:
    """kind: cluster, cell, zone or region; must exist and hold a cluster bound to the environment."""
    if not isinstance(slug, str):
        fail(path, _("must be a slug"))
    attr = {"cluster": "slug", "cell": "cell", "zone": "zone", "region": "region"}[kind]
    known = {c.slug for c in topology.clusters} if kind == "cluster" else getattr(topology, kind + "s")
    if slug not in known:
        fail(path, _unknown(kind))
    if not any(getattr(c, attr) == slug for c in topology.bound()):
        fail(path, _not_bound(kind) % {"slug": slug, "env": topology.environment})


def _check_cluster_or_cell(topology: Topology, slug, path: str) -> None:
    if slug in {c.slug for c in topology.clusters}:
        _check_slug(topology, "cluster", slug, path)
    elif slug in topology.cells:
        _check_slug(topology, "cell", slug, path)
    else:
        fail(path, _unknown("cluster"))


def _reserved(key) -> bool:
    return str(key).lower().startswith(RESERVED_PREFIX)


def _count(value, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        fail(path, _("must be a whole number, zero or more"))
    if value > MAX_COUNT:
        fail(path, _("must be at most %(n)s") % {"n": MAX_COUNT})
    return value


def _validate_scheduling(scheduling, ftype, topology: Topology) -> dict:
    path = "placement.replicaScheduling"
    if not isinstance(scheduling, dict):
        fail(path, _("must be an object"))
    for key in scheduling:
        if key not in SCHEDULING_KEYS:
            fail(f"{path}.{key}", _("unknown field"))
    kind = scheduling.get("type", "Duplicated")
    if kind not in ("Duplicated", "Divided"):
        fail(f"{path}.type", _("must be Duplicated or Divided"))
    if kind == "Duplicated":
        extra = [k for k in scheduling if k != "type"]
        if extra:
            fail(f"{path}.{extra[0]}", _("only applies to Divided scheduling"))
        return {"type": "Duplicated"}
    if not ftype.has_replicas:
        fail(f"{path}.type", _("%(kind)s has no replicas to divide") % {"kind": ftype.kind})
    if "totalReplicas" not in scheduling:
        fail(f"{path}.totalReplicas", _("is required for Divided scheduling"))
    total = _count(scheduling["totalReplicas"], f"{path}.totalReplicas")
    maps = {}
    for key in ("weights", "min", "max"):
        values = scheduling.get(key, {})
        if not isinstance(values, dict):
            fail(f"{path}.{key}", _("must map cluster or cell slugs to numbers"))
        for slug, value in values.items():
            _check_cluster_or_cell(topology, slug, f"{path}.{key}.{slug}")
            _count(value, f"{path}.{key}.{slug}")
        maps[key] = values
    for slug, low in maps["min"].items():
        high = maps["max"].get(slug)
        if high is not None and high < low:
            fail(f"{path}.max.{slug}", _("is smaller than min (%(low)s)") % {"low": low})
    if sum(maps["min"].values()) > total:
        fail(f"{path}.min", _("the minimums add up to more than totalReplicas (%(total)s)") % {"total": total})
    out = {"type": "Divided", "totalReplicas": total}
    out.update({k: v for k, v in maps.items() if v})
    return out


def validate_placement(placement, ftype, topology: Topology) -> dict:
    if placement in (None, ""):
        placement = {}
    if not isinstance(placement, dict):
        fail("placement", _("must be an object"))
    for key in placement:
        if key not in PLACEMENT_KEYS:
            fail(f"placement.{key}", _("unknown field"))
    if not topology.bound():
        fail("placement", _("environment %(env)s is not bound to any cell or cluster; ask a platform operator "
                            "to bind it") % {"env": topology.environment})
    cleaned = {}
    for key in placement_mod.SELECTION_KEYS:
        values = placement.get(key)
        if values in (None, []):
            continue
        if not isinstance(values, list):
            fail(f"placement.{key}", _("must be a list of slugs"))
        for i, slug in enumerate(values):
            _check_slug(topology, key[:-1], slug, f"placement.{key}[{i}]")
        cleaned[key] = list(values)
    if placement.get("labelSelector"):
        try:
            label_selectors.check_selector(placement["labelSelector"], "placement.labelSelector")
        except label_selectors.SelectorError as exc:
            fail(exc.path, exc.message)
        cleaned["labelSelector"] = placement["labelSelector"]
    if "replicaScheduling" in placement:
        cleaned["replicaScheduling"] = _validate_scheduling(placement["replicaScheduling"], ftype, topology)
    if not any(placement_mod.selected(cleaned, c) for c in topology.bound()):
        fail("placement", _("selects no cluster bound to environment %(env)s") % {"env": topology.environment})
    return cleaned


# --- overrides --------------------------------------------------------------------

def _validate_operation(operation, path: str) -> dict:
    if not isinstance(operation, dict):
        fail(path, _("must be an object with op, path and value"))
    for key in operation:
        if key not in ("op", "path", "value"):
            fail(f"{path}.{key}", _("unknown field"))
    if operation.get("op") not in OPS:
        fail(f"{path}.op", _("must be add, replace or remove"))
    try:
        tokens = pointer_tokens(operation.get("path"))
    except ValueError as exc:
        fail(f"{path}.path", str(exc))
    pointer = "/" + "/".join(tokens)
    if any(pointer == p or pointer.startswith(p + "/") for p in PROTECTED_PATHS) or pointer in ("/", "/metadata"):
        fail(f"{path}.path", _("%(p)s identifies the object and cannot be overridden") % {"p": pointer})
    if operation["op"] in ("add", "replace") and "value" not in operation:
        fail(f"{path}.value", _("is required for %(op)s") % {"op": operation["op"]})
    if operation["op"] == "remove" and "value" in operation:
        fail(f"{path}.value", _("remove takes no value"))
    if tokens[:2] in (["metadata", "labels"], ["metadata", "annotations"]):
        _check_metadata_map_operation(operation, tokens, path)
    return dict(operation)


def _check_metadata_map_operation(operation: dict, tokens: list, path: str) -> None:
    """Labels/annotations, whether one key or the whole map is set: string values, and
    no paas.io/ key (render re-adds the platform's own after the overrides)."""
    setting = operation["op"] in ("add", "replace")
    value = operation.get("value")
    if len(tokens) == 2:
        if setting:
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                fail(f"{path}.value", _("must map names to string values"))
            for key in value:
                if _reserved(key):
                    fail(f"{path}.value.{key}", _("the paas.io/ prefix is reserved for the platform"))
        return
    if len(tokens) > 3:
        fail(f"{path}.path", _("labels and annotations are strings: no path below %(key)s") % {"key": tokens[2]})
    if _reserved(tokens[2]):
        fail(f"{path}.path", _("the paas.io/ prefix is reserved for the platform"))
    if setting and not isinstance(value, str):
        fail(f"{path}.value", _("must be a string"))


def validate_overrides(overrides, topology: Topology) -> list:
    if overrides in (None, ""):
        return []
    if not isinstance(overrides, list):
        fail("overrides", _("must be a list"))
    cleaned = []
    for i, override in enumerate(overrides):
        path = f"overrides[{i}]"
        if not isinstance(override, dict):
            fail(path, _("must be an object with clusters or clusterSelector, and operations"))
        for key in override:
            if key not in ("clusters", "clusterSelector", "operations"):
                fail(f"{path}.{key}", _("unknown field"))
        if ("clusters" in override) == ("clusterSelector" in override):
            fail(path, _("give either clusters or clusterSelector"))
        item = {}
        if "clusters" in override:
            if not isinstance(override["clusters"], list) or not override["clusters"]:
                fail(f"{path}.clusters", _("must be a non-empty list of cluster slugs"))
            for j, slug in enumerate(override["clusters"]):
                _check_slug(topology, "cluster", slug, f"{path}.clusters[{j}]")
            item["clusters"] = list(override["clusters"])
        else:
            try:
                label_selectors.check_selector(override["clusterSelector"], f"{path}.clusterSelector")
            except label_selectors.SelectorError as exc:
                fail(exc.path, exc.message)
            item["clusterSelector"] = override["clusterSelector"]
        operations = override.get("operations")
        if not isinstance(operations, list) or not operations:
            fail(f"{path}.operations", _("must be a non-empty list"))
        item["operations"] = [_validate_operation(op, f"{path}.operations[{j}]") for j, op in enumerate(operations)]
        cleaned.append(item)
    return cleaned


def check_renders(*, ftype, template: dict, overrides: list, plan, topology: Topology, namespace: str) -> None:
    """Render for every planned cluster, so an override that cannot apply is refused now, not at sync."""
    for slug, replicas in plan.targets.items():
        cluster = topology.cluster(slug)
        try:
            render(template, namespace=namespace if ftype.namespaced else None, planned_replicas=replicas,
                   replicas_path=ftype.replicas_path, overrides=overrides, cluster_slug=slug,
                   cluster_labels=cluster.labels, resource_id=0, generation=0)
        except RenderError as exc:
            fail(exc.path, _("%(problem)s (in cluster %(c)s)") % {"problem": exc.message, "c": slug})
