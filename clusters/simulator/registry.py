"""Resource kinds the simulated API server serves: built-in ones and those defined by CRDs.

A ``Kind`` is one served group/version/resource. Objects live in a *bucket* named
after group + plural (not version), so a CRD serving v1 and v2 shares one set of
objects, as etcd storage does in a real cluster.
"""
from __future__ import annotations

from dataclasses import dataclass, field

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    # Path (dotted, from the object root) of the replica count when /scale is served.
    scale_spec_path: str | None = None
    scale_status_path: str | None = None
    scale_selector_path: str | None = None
    # The version objects are stored in; others are served by rewriting apiVersion.
    storage_version: str | None = None
    # CRD additionalPrinterColumns for Table output: (name, type, jsonPath, priority).
    printer_columns: tuple[tuple[str, str, str, int], ...] = ()
    custom: bool = False
    extra_subresources: tuple[str, ...] = field(default=())

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def bucket(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_scale(self) -> bool:
        return self.scale_spec_path is not None

    @property
    def group_version(self) -> str:
        return self.api_version


def _core(kind, plural, namespaced=True, short=(), **kw) -> Kind:
    return Kind("", "v1", kind, plural, namespaced, tuple(short), **kw)


def _apps(kind, plural, short=(), **kw) -> Kind:
    return Kind("apps", "v1", kind, plural, True, tuple(short), **kw)


_REPLICA_SCALE = dict(scale_spec_path="spec.replicas", scale_status_path="status.replicas",
                      scale_selector_path="spec.selector")

BUILTIN_KINDS: tuple[Kind, ...] = (
    _core("Namespace", "namespaces", False, ("ns",), status_subresource=True,
          extra_subresources=("finalize",)),
    _core("Node", "nodes", False, ("no",), status_subresource=True),
    _core("Pod", "pods", True, ("po",), categories=("all",), status_subresource=True,
          extra_subresources=("log",)),
    _core("Service", "services", True, ("svc",), categories=("all",), status_subresource=True),
    _core("Endpoints", "endpoints", True, ("ep",)),
    _core("ConfigMap", "configmaps", True, ("cm",)),
    _core("Secret", "secrets", True),
    _core("ServiceAccount", "serviceaccounts", True, ("sa",)),
    _core("Event", "events", True, ("ev",)),
    _core("ResourceQuota", "resourcequotas", True, ("quota",), status_subresource=True),
    _apps("Deployment", "deployments", ("deploy",), categories=("all",), status_subresource=True,
          **_REPLICA_SCALE),
    _apps("ReplicaSet", "replicasets", ("rs",), categories=("all",), status_subresource=True,
          **_REPLICA_SCALE),
    _apps("StatefulSet", "statefulsets", ("sts",), categories=("all",), status_subresource=True,
          **_REPLICA_SCALE),
    _apps("ControllerRevision", "controllerrevisions"),
    Kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
         ("crd", "crds"), status_subresource=True),
)

# Group/version order in discovery, most important first (kubectl prefers earlier groups
# when a short name is ambiguous).
BUILTIN_GROUPS = [("apps", "v1"), ("apiextensions.k8s.io", "v1")]


class Registry:
    """Lookup of served kinds; CRDs add and remove kinds at runtime."""

    def __init__(self):
        self._by_gvr: dict[tuple[str, str, str], Kind] = {}
        self._crd_kinds: dict[str, list[Kind]] = {}  # CRD name -> kinds it serves
        self.generation = 0  # bumps on every change, so discovery caches know to rebuild
        for kind in BUILTIN_KINDS:
            self._add(kind)

    def _add(self, kind: Kind) -> None:
        self._by_gvr[(kind.group, kind.version, kind.plural)] = kind
        self.generation += 1

    def lookup(self, group: str, version: str, plural: str) -> Kind | None:
        return self._by_gvr.get((group, version, plural))

    def by_bucket(self, bucket: str) -> Kind | None:
        """The storage-version kind for a bucket (any served version when none is marked)."""
        found = None
        for kind in self._by_gvr.values():
            if kind.bucket == bucket:
                if kind.storage_version in (None, kind.version):
                    return kind
                found = found or kind
        return found

    def by_api_version_kind(self, api_version: str, kind_name: str) -> Kind | None:
        group, _, version = api_version.rpartition("/")
        for kind in self._by_gvr.values():
            if kind.group == group and kind.version == version and kind.kind == kind_name:
                return kind
        return None

    def all(self) -> list[Kind]:
        return list(self._by_gvr.values())

    def group_versions(self) -> list[tuple[str, list[str]]]:
        """[(group, [versions...])] for /apis, built-ins first, then CRD groups by name."""
        versions: dict[str, list[str]] = {}
        for group, version in BUILTIN_GROUPS:
            versions.setdefault(group, []).append(version)
        for kind in sorted(self._by_gvr.values(), key=lambda k: (k.group, k.version)):
            if kind.group and kind.version not in versions.setdefault(kind.group, []):
                versions[kind.group].append(kind.version)
        return [(g, _sort_versions(v)) for g, v in versions.items() if v]

    def kinds_in(self, group: str, version: str) -> list[Kind]:
        return [k for k in self._by_gvr.values() if k.group == group and k.version == version]

    def buckets(self) -> list[str]:
        return sorted({k.bucket for k in self._by_gvr.values()})

    # -- CRDs -------------------------------------------------------------------------

    def register_crd(self, crd: dict) -> list[Kind]:
        """Serve every version a CRD marks ``served``; replaces any earlier registration."""
        self.unregister_crd(crd["metadata"]["name"])
        spec = crd["spec"]
        names = spec["names"]
        storage = next((v["name"] for v in spec["versions"] if v.get("storage")),
                       spec["versions"][0]["name"])
        kinds = []
        for version in spec["versions"]:
            if not version.get("served", True):
                continue
            subresources = version.get("subresources") or {}
            scale = subresources.get("scale") or {}
            columns = tuple(
                (c["name"], c.get("type", "string"), c["jsonPath"], c.get("priority", 0))
                for c in version.get("additionalPrinterColumns") or ())
            kind = Kind(
                group=spec["group"], version=version["name"], kind=names["kind"], plural=names["plural"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status_subresource="status" in subresources,
                scale_spec_path=_dotted(scale.get("specReplicasPath")),
                scale_status_path=_dotted(scale.get("statusReplicasPath")),
                scale_selector_path=_dotted(scale.get("labelSelectorPath")),
                storage_version=storage, printer_columns=columns, custom=True,
            )
            self._add(kind)
            kinds.append(kind)
        self._crd_kinds[crd["metadata"]["name"]] = kinds
        return kinds

    def unregister_crd(self, crd_name: str) -> list[Kind]:
        kinds = self._crd_kinds.pop(crd_name, [])
        for kind in kinds:
            self._by_gvr.pop((kind.group, kind.version, kind.plural), None)
        if kinds:
            self.generation += 1
        return kinds

    def find_conflict(self, group: str, plural: str, crd_name: str) -> bool:
        """True when another CRD (or a built-in) already serves group/plural."""
        for kind in self._by_gvr.values():
            if kind.group == group and kind.plural == plural:
                owners = [n for n, ks in self._crd_kinds.items() if kind in ks]
                return owners != [crd_name]
        return False


def _dotted(json_path: str | None) -> str | None:
    # CRD scale paths are ".spec.replicas"; we keep them as "spec.replicas".
    return json_path.lstrip(".") if json_path else None


def _sort_versions(versions: list[str]) -> list[str]:
    """Kubernetes version priority: GA > beta > alpha, higher numbers first."""
    import re

    def key(v: str):
        m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
        if not m:
            return (3, 0, 0, v)
        stage = {"None": 0, "beta": 1, "alpha": 2}[str(m.group(2))]
        return (stage, -int(m.group(1)), -int(m.group(3) or 0), v)

    return sorted(versions, key=key)
