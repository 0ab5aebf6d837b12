"""ResourceQuota: admission on create (403 "exceeded quota" / "must specify") and
``status.used`` kept current.

Pod usage per namespace is maintained incrementally from pod events, so admitting a pod
costs the same in a namespace with 10 pods or 10,000. Object-count quotas
(``count/<resource>``, ``services``, ``configmaps``...) read the store's counters.
"""
from __future__ import annotations

from .. import quantity
from ..errors import forbidden
from .base import Controller
from .podutil import container_resources, is_active

_ALIASES = {"cpu": "requests.cpu", "memory": "requests.memory", "ephemeral-storage": "requests.ephemeral-storage",
            "count/pods": "pods"}
_LEGACY_COUNTS = {"services": "services", "configmaps": "configmaps", "secrets": "secrets",
                  "resourcequotas": "resourcequotas", "persistentvolumeclaims": "persistentvolumeclaims",
                  "replicationcontrollers": "replicationcontrollers"}
_MUST_SPECIFY = ("requests.cpu", "requests.memory", "requests.ephemeral-storage",
                 "limits.cpu", "limits.memory", "limits.ephemeral-storage")


def canonical(resource: str) -> str:
    return _ALIASES.get(resource, resource)


def pod_usage(pod: dict) -> dict[str, int]:
    """What a pod counts against quota, in thousandths (one pod is 1000)."""
    if not is_active(pod):
        return {}
    usage = container_resources(pod.get("spec") or {})
    usage["pods"] = 1000
    return usage


def _count_names(bucket: str) -> set[str]:
    names = {f"count/{bucket}"}
    if bucket in _LEGACY_COUNTS:
        names.add(_LEGACY_COUNTS[bucket])
    return names


class Quotas(Controller):
    watches = ("*",)

    def __init__(self, manager):
        super().__init__(manager)
        self.usage: dict[str, dict[str, int]] = {}  # namespace -> resource -> thousandths
        self.api.admission.append(self.admit)

    # -- usage tracking -----------------------------------------------------------------

    def handle(self, type_, bucket, old, new):
        namespace = new["metadata"].get("namespace", "")
        if bucket == "pods":
            if (type_ == "MODIFIED" and is_active(old) == is_active(new)
                    and (old.get("spec") or {}).get("containers") == (new.get("spec") or {}).get("containers")):
                return  # a status change: usage is the same
            totals = self.usage.setdefault(namespace, {})
            if old is not None:
                for key, value in pod_usage(old).items():
                    totals[key] = totals.get(key, 0) - value
            if type_ != "DELETED":
                for key, value in pod_usage(new).items():
                    totals[key] = totals.get(key, 0) + value
        if bucket == "resourcequotas":
            if type_ != "DELETED":
                self.enqueue(namespace)
        elif namespace and (type_ != "MODIFIED" or bucket == "pods") and self.store.count("resourcequotas", namespace):
            self.enqueue(namespace)

    def used(self, namespace: str, resource: str) -> int:
        resource = canonical(resource)
        if resource.startswith("count/") or resource in _LEGACY_COUNTS:
            # "count/deployments.apps" names the bucket "deployments.apps" directly.
            return self.store.count(resource.split("/", 1)[-1], namespace) * 1000
        return self.usage.get(namespace, {}).get(resource, 0)

    # -- admission ----------------------------------------------------------------------

    def admit(self, kind, obj: dict) -> None:
        namespace = obj["metadata"].get("namespace")
        if not namespace or not self.store.count("resourcequotas", namespace):
            return
        name = obj["metadata"]["name"]
        if kind.bucket == "pods":
            increment = pod_usage(obj)
        else:
            increment = {n: 1000 for n in _count_names(kind.bucket)}
        for quota in self.store.select("resourcequotas", namespace):
            hard = (quota.obj.get("spec") or {}).get("hard") or {}
            quota_name = quota.obj["metadata"]["name"]
            if kind.bucket == "pods":
                self._require_specified(kind, name, quota_name, obj, hard)
            exceeded = []
            for resource, limit in sorted(hard.items()):
                key = canonical(resource)
                if key not in increment:
                    continue
                used = self.used(namespace, key)
                if used + increment[key] > quantity.milli(limit):
                    exceeded.append((resource, increment[key], used, quantity.milli(limit)))
            if exceeded:
                requested, used, limited = (
                    ",".join(f"{row[0]}={quantity.format_milli(row[0], row[column])}" for row in exceeded)
                    for column in (1, 2, 3))
                raise forbidden(kind.plural, kind.group, name,
                                f"exceeded quota: {quota_name}, requested: {requested}, used: {used}, limited: {limited}")

    @staticmethod
    def _require_specified(kind, name: str, quota_name: str, pod: dict, hard: dict) -> None:
        tracked = {canonical(r) for r in hard} & set(_MUST_SPECIFY)
        missing = []
        for resource in sorted(tracked):
            section, res = resource.split(".", 1)
            lacking = []
            for container in (pod.get("spec") or {}).get("containers") or ():
                resources = container.get("resources") or {}
                have = set(resources.get("limits") or {})
                if section == "requests":
                    have |= set(resources.get("requests") or {})
                if res not in have:
                    lacking.append(container.get("name", ""))
            if lacking:
                missing.append(f"{resource} for: {','.join(lacking)}")
        if missing:
            raise forbidden(kind.plural, kind.group, name, f"failed quota: {quota_name}: must specify {'; '.join(missing)}")

    # -- status -------------------------------------------------------------------------

    def reconcile(self, namespace: str) -> None:
        for quota in self.store.select("resourcequotas", namespace):
            obj = quota.thaw()
            hard = (obj.get("spec") or {}).get("hard") or {}
            obj["status"] = {
                "hard": dict(hard),
                "used": {r: quantity.format_milli(r, self.used(namespace, r)) for r in hard},
            }
            self.save("resourcequotas", obj, quota)
