"""Discovery documents (/version, /api, /apis, ...) and the minimal OpenAPI v3 kubectl reads.

Legacy (unaggregated) discovery is served; kubectl 1.32 asks for aggregated discovery
first and falls back when the response is a plain APIGroupList.

OpenAPI: kubectl's apply/create check the v3 document of a group-version for a PATCH
operation carrying a ``fieldValidation`` query parameter; when it is there, validation
is left to the server and no schema is needed. So each group-version document lists
one PATCH operation per kind with that parameter, and nothing else. /openapi/v2 is 404,
which kubectl tolerates (it falls back to its built-in patch metadata).
"""
from __future__ import annotations

import hashlib
import json

from .registry import VERBS, Kind, Registry

SERVER_VERSION = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0-sim", "gitCommit": "0" * 40,
    "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.4",
    "compiler": "gc", "platform": "linux/amd64",
}

_NO_COLLECTION = {"namespaces", "nodes", "customresourcedefinitions"}


def _resource_entries(kind: Kind) -> list[dict]:
    verbs = [v for v in VERBS if not (v == "deletecollection" and kind.plural in _NO_COLLECTION and not kind.custom)]
    main = {"name": kind.plural, "singularName": kind.singular, "namespaced": kind.namespaced,
            "kind": kind.kind, "verbs": verbs,
            "storageVersionHash": hashlib.sha256(kind.bucket.encode()).hexdigest()[:11]}
    if kind.short_names:
        main["shortNames"] = list(kind.short_names)
    if kind.categories:
        main["categories"] = list(kind.categories)
    entries = [main]
    if kind.status_subresource:
        entries.append({"name": f"{kind.plural}/status", "singularName": "", "namespaced": kind.namespaced,
                        "kind": kind.kind, "verbs": ["get", "patch", "update"]})
    if kind.has_scale:
        entries.append({"name": f"{kind.plural}/scale", "singularName": "", "namespaced": kind.namespaced,
                        "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
    for sub in kind.extra_subresources:
        entries.append({"name": f"{kind.plural}/{sub}", "singularName": "", "namespaced": kind.namespaced,
                        "kind": kind.kind if sub != "log" else "Pod",
                        "verbs": ["get"] if sub == "log" else ["update"]})
    return entries


class Discovery:
    def __init__(self, registry: Registry, server_address: str):
        self.registry = registry
        self.server_address = server_address
        self._cache: dict[str, bytes] = {}
        self._generation = -1

    def _cached(self, key: str, build) -> bytes | None:
        if self._generation != self.registry.generation:
            self._cache.clear()
            self._generation = self.registry.generation
        if key not in self._cache:
            doc = build()
            self._cache[key] = b"" if doc is None else json.dumps(doc, separators=(",", ":")).encode()
        return self._cache[key] or None

    def version(self) -> bytes:
        return self._cached("version", lambda: SERVER_VERSION)

    def core_versions(self) -> bytes:
        return self._cached("api", lambda: {
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}]})

    def _group(self, group: str, versions: list[str]) -> dict:
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def groups(self) -> bytes:
        return self._cached("apis", lambda: {
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": [self._group(g, vs) for g, vs in self.registry.group_versions()]})

    def group(self, name: str) -> bytes | None:
        def build():
            for group, versions in self.registry.group_versions():
                if group == name:
                    return {"kind": "APIGroup", "apiVersion": "v1", **self._group(group, versions)}
            return None
        return self._cached(f"group:{name}", build)

    def resources(self, group: str, version: str) -> bytes | None:
        def build():
            kinds = self.registry.kinds_in(group, version)
            if not kinds:
                return None
            resources = [entry for kind in sorted(kinds, key=lambda k: k.plural) for entry in _resource_entries(kind)]
            return {"kind": "APIResourceList", "apiVersion": "v1",
                    "groupVersion": f"{group}/{version}" if group else version, "resources": resources}
        return self._cached(f"resources:{group}/{version}", build)

    # -- OpenAPI v3 -------------------------------------------------------------------

    def _gv_paths(self) -> list[tuple[str, str, str]]:
        """(openapi path key, group, version) for every served group-version."""
        out = [("api/v1", "", "v1")]
        for group, versions in self.registry.group_versions():
            out += [(f"apis/{group}/{v}", group, v) for v in versions]
        return out

    def openapi_root(self) -> bytes:
        def build():
            paths = {}
            for key, _, _ in self._gv_paths():
                digest = hashlib.sha256(f"{key}:{self.registry.generation}".encode()).hexdigest()[:16].upper()
                paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
            return {"paths": paths}
        return self._cached("openapi", build)

    def openapi_group_version(self, key: str) -> bytes | None:
        def build():
            match = next(((g, v) for k, g, v in self._gv_paths() if k == key), None)
            if match is None:
                return None
            group, version = match
            paths = {}
            for kind in self.registry.kinds_in(group, version):
                prefix = f"/{key}/namespaces/{{namespace}}" if kind.namespaced else f"/{key}"
                paths[f"{prefix}/{kind.plural}/{{name}}"] = {"patch": {
                    "operationId": f"patch{kind.kind}",
                    "parameters": [{"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                                   for name in ("dryRun", "fieldManager", "fieldValidation", "force")],
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind.kind},
                    "responses": {"200": {"description": "OK"}},
                }}
            return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
                    "paths": paths, "components": {"schemas": {}}}
        return self._cached(f"openapi:{key}", build)
