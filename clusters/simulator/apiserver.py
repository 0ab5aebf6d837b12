"""API semantics of one simulated cluster, shared by the HTTP handlers and the controllers.

Everything a real API server guarantees around a write lives here: uid/creationTimestamp,
generateName, AlreadyExists, optimistic concurrency on resourceVersion, generation bumps
on spec changes, status-subresource isolation, finalizers and deletionTimestamp,
deletion propagation (Foreground/Background/Orphan), namespace lifecycle, admission
(quota) and CRD registration. Controllers go through the same path, so their writes
are validated and watched exactly like a client's.
"""
from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable

from . import kinds
from .apply import server_side_apply
from .decoding import DecodeError, decode_yaml
from .errors import (
    already_exists,
    bad_request,
    conflict,
    forbidden,
    invalid,
    not_found,
    unsupported_media_type,
)
from .patching import json_patch, merge_patch, strategic_merge_patch
from .registry import Kind, Registry
from .selectors import EVERY_FIELD, EVERYTHING, FieldSelector, LabelSelector, selector_object_to_string
from .store import Store, Stored, dumps

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (MERGE_PATCH, STRATEGIC_PATCH, JSON_PATCH, APPLY_PATCH)

_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"
CRD_BUCKET = "customresourcedefinitions.apiextensions.k8s.io"
# Status comes from the controllers, never from the creating client (nodes excepted:
# node agents register with their status).
_KEEP_STATUS_ON_CREATE = {"nodes", CRD_BUCKET}
_UNDELETABLE_NAMESPACES = {"default", "kube-system", "kube-public"}


def now_iso(ts: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if ts is None else ts))


def random_suffix(n: int = 5) -> str:
    return "".join(random.choice(_SUFFIX_CHARS) for _ in range(n))


def _spec_part(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


Admission = Callable[[Kind, dict], None]


class ApiServer:
    def __init__(self, store: Store, registry: Registry):
        self.store = store
        self.registry = registry
        self.admission: list[Admission] = []
        self._counters = {"service-ip": 1, "node-port": 30000, "lb-ip": 0}

    # -- helpers ----------------------------------------------------------------------

    def allocate(self, what: str):
        self._counters[what] += 1
        n = self._counters[what]
        if what == "service-ip":
            return f"10.96.{n >> 8 & 255}.{n & 255}"
        if what == "lb-ip":
            return f"172.18.{n >> 8 & 255}.{n & 255}"
        return n

    def storage_kind(self, kind: Kind) -> Kind:
        if kind.storage_version in (None, kind.version):
            return kind
        return self.registry.lookup(kind.group, kind.storage_version, kind.plural) or kind

    def _check_type(self, kind: Kind, obj) -> dict:
        if not isinstance(obj, dict):
            raise bad_request("the body of the request must be a JSON object")
        if obj.get("apiVersion") in (None, "") and obj.get("kind") in (None, ""):
            obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        if obj.get("kind") != kind.kind or obj.get("apiVersion") not in (kind.api_version,
                                                                          self.storage_kind(kind).api_version):
            raise bad_request(f"the API version in the data ({obj.get('apiVersion')}) does not match the expected "
                              f"API version ({kind.api_version})" if obj.get("kind") == kind.kind else
                              f"Object kind {obj.get('kind')!r} does not match the resource ({kind.kind})")
        obj["apiVersion"] = self.storage_kind(kind).api_version
        if not isinstance(obj.get("metadata", {}), dict):
            raise bad_request("metadata must be an object")
        return obj.setdefault("metadata", {})

    def _check_namespace(self, kind: Kind, namespace: str, name: str) -> None:
        ns = self.store.get("namespaces", "", namespace)
        if ns is None:
            raise not_found("namespaces", "", namespace)
        if ns.obj["metadata"].get("deletionTimestamp"):
            raise forbidden(kind.plural, kind.group, name,
                            f"unable to create new content in namespace {namespace} because it is being terminated")

    def _fake(self, bucket: str, obj: dict) -> Stored:
        """What a dry-run write would have stored."""
        meta = obj["metadata"]
        return Stored(obj, dumps(obj), (meta.get("namespace", ""), meta["name"]))

    # -- reads ------------------------------------------------------------------------

    def get(self, kind: Kind, namespace: str, name: str) -> Stored:
        stored = self.store.get(kind.bucket, namespace if kind.namespaced else "", name)
        if stored is None:
            raise not_found(kind.plural, kind.group, name)
        return stored

    def list(self, kind: Kind, namespace: str | None, labels: LabelSelector = EVERYTHING,
             fields: FieldSelector = EVERY_FIELD) -> list[Stored]:
        return self.store.select(kind.bucket, namespace if kind.namespaced else None, labels, fields)

    # -- create -----------------------------------------------------------------------

    def create(self, kind: Kind, namespace: str, obj: dict, *, dry_run: bool = False) -> Stored:
        meta = self._check_type(kind, obj)
        if kind.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        bucket = kind.bucket
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise invalid(kind.kind, kind.group, "", [("metadata.name", "Required value: name or generateName is required")])
            for _ in range(20):
                meta["name"] = meta["generateName"] + random_suffix()
                if self.store.get(bucket, namespace if kind.namespaced else "", meta["name"]) is None:
                    break
        name = meta["name"]
        kinds.validate_name(kind, name)
        if kind.namespaced:
            self._check_namespace(kind, namespace, name)
        if self.store.get(bucket, meta.get("namespace", ""), name) is not None:
            raise already_exists(kind.plural, kind.group, name)
        for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        if kinds.tracks_generation(kind):
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if kind.status_subresource and bucket not in _KEEP_STATUS_ON_CREATE:
            obj.pop("status", None)
        kinds.prepare(kind, obj, None, self.allocate)
        for admit in self.admission:
            admit(kind, obj)
        if bucket == CRD_BUCKET:
            self._check_crd_names(obj)
        if dry_run:
            return self._fake(bucket, obj)
        stored = self.store.put(bucket, obj)
        if bucket == CRD_BUCKET:
            self.registry.register_crd(obj)
        return stored

    def _check_crd_names(self, crd: dict) -> None:
        spec = crd["spec"]
        if self.registry.find_conflict(spec["group"], spec["names"]["plural"], crd["metadata"]["name"]):
            raise invalid("CustomResourceDefinition", "apiextensions.k8s.io", crd["metadata"]["name"],
                          [("spec.names.plural", "Invalid value: already in use")])

    # -- update -----------------------------------------------------------------------

    def update(self, kind: Kind, namespace: str, name: str, new: dict, *, subresource: str | None = None,
               dry_run: bool = False) -> Stored:
        meta = self._check_type(kind, new)
        namespace = namespace if kind.namespaced else ""
        if meta.get("name") not in (None, name):
            raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
        if kind.namespaced and meta.get("namespace") not in (None, "", namespace):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        stored = self.store.get(kind.bucket, namespace, name)
        if stored is None:
            if kind.bucket in ("endpoints", "events") and not subresource:
                meta["name"] = name
                return self.create(kind, namespace, new, dry_run=dry_run)
            raise not_found(kind.plural, kind.group, name)
        old = stored.obj
        old_meta = old["metadata"]
        if meta.get("resourceVersion") and meta["resourceVersion"] != old_meta["resourceVersion"]:
            raise conflict(kind.plural, kind.group, name)
        if subresource == "status":
            result = stored.thaw()
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
        else:
            result = new
            if kind.status_subresource and kind.bucket != CRD_BUCKET:
                if "status" in old:
                    result["status"] = json.loads(json.dumps(old["status"]))
                else:
                    result.pop("status", None)
            self._keep_system_metadata(result["metadata"], old_meta)
            kinds.prepare(kind, result, old, self.allocate)
        result["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        if kinds.tracks_generation(kind):
            generation = old_meta.get("generation", 1)
            if subresource != "status" and _spec_part(result) != _spec_part(old):
                generation += 1
            result["metadata"]["generation"] = generation
        if result == old:
            return stored  # a no-op update neither bumps resourceVersion nor wakes watchers
        if kind.bucket == CRD_BUCKET:
            self._check_crd_names(result)
        if dry_run:
            return self._fake(kind.bucket, result)
        if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers"):
            return self._finish_delete(kind, stored)
        written = self.store.put(kind.bucket, result)
        if kind.bucket == CRD_BUCKET:
            self.registry.register_crd(result)
        return written

    @staticmethod
    def _keep_system_metadata(meta: dict, old_meta: dict) -> None:
        for field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "namespace", "name", "generateName"):
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        if "managedFields" not in meta and "managedFields" in old_meta:
            meta["managedFields"] = old_meta["managedFields"]

    # -- patch ------------------------------------------------------------------------

    def patch(self, kind: Kind, namespace: str, name: str, content_type: str, body: bytes, *,
              subresource: str | None = None, field_manager: str | None = None, force: bool = False,
              dry_run: bool = False) -> Stored:
        namespace = namespace if kind.namespaced else ""
        stored = self.store.get(kind.bucket, namespace, name)
        if content_type == APPLY_PATCH:
            return self._apply(kind, namespace, name, stored, body, subresource, field_manager, force, dry_run)
        if stored is None:
            raise not_found(kind.plural, kind.group, name)
        document = _decode_patch(body)
        base = stored.thaw()
        if content_type == MERGE_PATCH:
            if not isinstance(document, dict):
                raise bad_request("merge patch must be a JSON object")
            result = merge_patch(base, document)
        elif content_type == STRATEGIC_PATCH:
            if kind.custom:  # strategic merge needs Go struct tags, which custom resources lack
                raise unsupported_media_type(content_type, (JSON_PATCH, MERGE_PATCH, APPLY_PATCH))
            result = strategic_merge_patch(base, document, kind.bucket)
        elif content_type == JSON_PATCH:
            result = json_patch(base, document)
        else:
            raise unsupported_media_type(content_type, PATCH_TYPES)
        if not isinstance(result.get("metadata"), dict):
            raise bad_request("metadata must be an object")
        result["metadata"].setdefault("resourceVersion", stored.obj["metadata"]["resourceVersion"])
        return self.update(kind, namespace, name, result, subresource=subresource, dry_run=dry_run)

    def _apply(self, kind, namespace, name, stored, body, subresource, field_manager, force, dry_run) -> Stored:
        if not field_manager:
            raise invalid("PatchOptions", "meta.k8s.io", "",
                          [("fieldManager", "Required value: is required for apply patch")])
        try:
            applied = decode_yaml(body)
        except DecodeError as exc:
            raise bad_request(f"error decoding YAML: {exc}") from None
        if not isinstance(applied, dict) or not applied.get("apiVersion") or not applied.get("kind"):
            raise bad_request("apiVersion and kind must be set in an apply patch")
        meta = applied.setdefault("metadata", {})
        if meta.get("name") not in (None, name):
            raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
        meta["name"] = name
        common = dict(manager=field_manager, force=force, bucket=kind.bucket, custom=kind.custom,
                      api_version=kind.api_version, now=now_iso(), subresource=subresource or "")
        if stored is None:
            if subresource:
                raise not_found(kind.plural, kind.group, name)
            result = server_side_apply(None, applied, **common)
            return self.create(kind, namespace, result, dry_run=dry_run)
        self._check_type(kind, applied)
        result = server_side_apply(stored.thaw(), applied, **common)
        result["metadata"]["resourceVersion"] = stored.obj["metadata"]["resourceVersion"]
        return self.update(kind, namespace, name, result, subresource=subresource, dry_run=dry_run)

    # -- delete -----------------------------------------------------------------------

    def delete(self, kind: Kind, namespace: str, name: str, *, propagation: str | None = None,
               preconditions: dict | None = None, dry_run: bool = False) -> Stored:
        namespace = namespace if kind.namespaced else ""
        stored = self.get(kind, namespace, name)
        meta = stored.obj["metadata"]
        preconditions = preconditions or {}
        if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
            raise conflict(kind.plural, kind.group, name,
                           f"Precondition failed: UID in precondition: {preconditions['uid']}, UID in object meta: {meta.get('uid')}")
        if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != meta["resourceVersion"]:
            raise conflict(kind.plural, kind.group, name,
                           f"Precondition failed: ResourceVersion in precondition: {preconditions['resourceVersion']}, "
                           f"ResourceVersion in object meta: {meta['resourceVersion']}")
        if dry_run:
            return stored
        if kind.bucket == "namespaces":
            if name in _UNDELETABLE_NAMESPACES:
                raise forbidden("namespaces", "", name, "this namespace may not be deleted")
            return self._mark_deleting(kind, stored, phase="Terminating")
        if propagation == "Orphan":
            for bucket, dependent in self.store.dependents_of(meta["uid"]):
                self.drop_owner_reference(bucket, dependent, meta["uid"])
        elif propagation == "Foreground":
            for bucket, dependent in self.store.dependents_of(meta["uid"]):
                dep_kind = self.registry.by_bucket(bucket)
                if dep_kind is not None:
                    dep_meta = dependent.obj["metadata"]
                    self.delete(dep_kind, dep_meta.get("namespace", ""), dep_meta["name"], propagation="Foreground")
        if meta.get("finalizers"):
            return self._mark_deleting(kind, stored)
        return self._finish_delete(kind, stored)

    def _mark_deleting(self, kind: Kind, stored: Stored, phase: str | None = None) -> Stored:
        if stored.obj["metadata"].get("deletionTimestamp"):
            return stored
        obj = stored.thaw()
        obj["metadata"]["deletionTimestamp"] = now_iso()
        obj["metadata"]["deletionGracePeriodSeconds"] = 0
        if phase:
            obj.setdefault("status", {})["phase"] = phase
        return self.store.put(kind.bucket, obj)

    def _finish_delete(self, kind: Kind, stored: Stored) -> Stored:
        meta = stored.obj["metadata"]
        final = self.store.remove(kind.bucket, meta.get("namespace", ""), meta["name"])
        if kind.bucket == CRD_BUCKET:
            self._drop_custom_resources(stored.obj)
        return final

    def _drop_custom_resources(self, crd: dict) -> None:
        served = self.registry.unregister_crd(crd["metadata"]["name"])
        if served:
            bucket = served[0].bucket
            for item in self.store.select(bucket):
                meta = item.obj["metadata"]
                self.store.remove(bucket, meta.get("namespace", ""), meta["name"])
            self.store.drop_bucket(bucket)

    def drop_owner_reference(self, bucket: str, stored: Stored, owner_uid: str) -> None:
        obj = stored.thaw()
        refs = [r for r in obj["metadata"].get("ownerReferences") or () if r.get("uid") != owner_uid]
        if refs:
            obj["metadata"]["ownerReferences"] = refs
        else:
            obj["metadata"].pop("ownerReferences", None)
        self.store.put(bucket, obj)

    def remove_now(self, bucket: str, stored: Stored) -> None:
        """Delete regardless of finalizers (namespace teardown, garbage collection)."""
        kind = self.registry.by_bucket(bucket)
        meta = stored.obj["metadata"]
        if kind is not None:
            self._finish_delete(kind, stored)
        else:
            self.store.remove(bucket, meta.get("namespace", ""), meta["name"])

    # -- scale subresource ------------------------------------------------------------

    def scale_of(self, kind: Kind, stored: Stored) -> dict:
        obj = stored.obj
        meta = obj["metadata"]
        selector = _dig(obj, kind.scale_selector_path)
        if isinstance(selector, dict):
            selector = selector_object_to_string(selector)
        scale = {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": _dig(obj, kind.scale_spec_path) or 0},
            "status": {"replicas": _dig(obj, kind.scale_status_path) or 0},
        }
        if selector:
            scale["status"]["selector"] = selector
        return scale

    def patch_scale(self, kind: Kind, namespace: str, name: str, content_type: str, body: bytes) -> Stored:
        scale = self.scale_of(kind, self.get(kind, namespace, name))
        document = _decode_patch(body)
        if content_type == JSON_PATCH:
            scale = json_patch(scale, document)
        elif content_type == STRATEGIC_PATCH:
            scale = strategic_merge_patch(scale, document, "scale")
        elif content_type == MERGE_PATCH and isinstance(document, dict):
            scale = merge_patch(scale, document)
        else:
            raise unsupported_media_type(content_type, (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH))
        return self.set_scale(kind, namespace, name, scale)

    def set_scale(self, kind: Kind, namespace: str, name: str, scale: dict) -> Stored:
        stored = self.get(kind, namespace, name)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise invalid("Scale", "autoscaling", name, [("spec.replicas", "Invalid value: must be a non-negative integer")])
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv and rv != stored.obj["metadata"]["resourceVersion"]:
            raise conflict(kind.plural, kind.group, name)
        obj = stored.thaw()
        _set(obj, kind.scale_spec_path, replicas)
        return self.update(kind, namespace, name, obj)


def _decode_patch(body: bytes):
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise bad_request(f"error decoding patch: {exc}") from None


def _dig(obj, dotted: str | None):
    if not dotted:
        return None
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _set(obj: dict, dotted: str, value) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value
