"""Endpoints controller: each Service with a selector gets an Endpoints object listing the
IPs of matching pods, ready ones under ``addresses`` and the rest under
``notReadyAddresses``; ports resolve named targetPorts per pod, as kube-proxy needs.

Pod events only wake the services of the pod's namespace whose selector matches the
pod before or after the change, and only when something endpoints show changed.
"""
from __future__ import annotations

from ..selectors import LabelSelector, Requirement
from .base import Controller
from .podutil import is_ready


def _selector(svc: dict) -> LabelSelector | None:
    selector = (svc.get("spec") or {}).get("selector")
    if not selector:
        return None
    return LabelSelector([Requirement(k, "=", (str(v),)) for k, v in sorted(selector.items())])


def _visible(pod: dict | None) -> tuple:
    """What of a pod the endpoints depend on."""
    if pod is None:
        return ()
    status = pod.get("status") or {}
    return (tuple(sorted((pod["metadata"].get("labels") or {}).items())), status.get("podIP"), is_ready(pod),
            bool(pod["metadata"].get("deletionTimestamp")), (pod.get("spec") or {}).get("nodeName"))


def _resolve_port(pod: dict, target) -> int | None:
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("name") == target:
                return port.get("containerPort")
    return None


def build_subsets(svc: dict, pods: list[dict]) -> list[dict]:
    ports = (svc.get("spec") or {}).get("ports") or []
    publish_all = (svc.get("spec") or {}).get("publishNotReadyAddresses", False)
    groups: dict[tuple, dict] = {}
    for pod in pods:
        status = pod.get("status") or {}
        if not status.get("podIP") or pod["metadata"].get("deletionTimestamp"):
            continue
        resolved = []
        for port in ports:
            number = _resolve_port(pod, port.get("targetPort", port.get("port")))
            if number is None:
                continue
            entry = {"port": number, "protocol": port.get("protocol", "TCP")}
            if port.get("name"):
                entry["name"] = port["name"]
            resolved.append(entry)
        if ports and not resolved:
            continue
        group = groups.setdefault(tuple(sorted((p.get("name", ""), p["port"]) for p in resolved)),
                                  {"addresses": [], "notReadyAddresses": [], "ports": resolved})
        meta = pod["metadata"]
        address = {"ip": status["podIP"],
                   "targetRef": {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}}
        if (pod.get("spec") or {}).get("nodeName"):
            address["nodeName"] = pod["spec"]["nodeName"]
        group["addresses" if publish_all or is_ready(pod) else "notReadyAddresses"].append(address)
    subsets = []
    for _, group in sorted(groups.items()):
        subset = {}
        for field in ("addresses", "notReadyAddresses"):
            if group[field]:
                subset[field] = sorted(group[field], key=lambda a: a["ip"])
        if group["ports"]:
            subset["ports"] = group["ports"]
        subsets.append(subset)
    return subsets


class Endpoints(Controller):
    watches = ("services", "pods")

    def __init__(self, manager):
        super().__init__(manager)
        self.kind = self.api.registry.lookup("", "v1", "endpoints")
        # Selector of each service, and (namespace, label key, value) -> services whose
        # selector requires that pair, so a pod event checks only plausible services
        # instead of every service in its namespace.
        self.selectors: dict[tuple[str, str], dict] = {}
        self.by_pair: dict[tuple[str, str, str], set[tuple[str, str]]] = {}

    def handle(self, type_, bucket, old, new):
        meta = new["metadata"]
        namespace = meta["namespace"]
        if bucket == "services":
            self._index_service(type_, (namespace, meta["name"]), new)
            return
        if type_ == "MODIFIED" and _visible(old) == _visible(new):
            return
        for labels in (meta.get("labels"), (old or {}).get("metadata", {}).get("labels")):
            for pair in (labels or {}).items():
                for key in self.by_pair.get((namespace, *pair), ()):
                    if all(labels.get(k) == v for k, v in self.selectors[key].items()):
                        self.enqueue(key)

    def _index_service(self, type_: str, key: tuple[str, str], svc: dict) -> None:
        for pair in self.selectors.pop(key, {}).items():
            services = self.by_pair.get((key[0], *pair))
            if services is not None:
                services.discard(key)
                if not services:
                    del self.by_pair[(key[0], *pair)]
        selector = (svc.get("spec") or {}).get("selector") or {}
        if type_ != "DELETED" and selector:
            self.selectors[key] = {k: str(v) for k, v in selector.items()}
            for pair in self.selectors[key].items():
                self.by_pair.setdefault((key[0], *pair), set()).add(key)
        self.enqueue(key)

    def reconcile(self, key) -> None:
        ns, name = key
        svc = self.store.get("services", ns, name)
        current = self.store.get("endpoints", ns, name)
        if svc is None:
            if current is not None:
                self.store.remove("endpoints", ns, name)
            return
        selector = _selector(svc.obj)
        if selector is None:
            return  # services without a selector have user-managed endpoints
        pods = [p.obj for p in self.store.select("pods", ns, selector)]
        subsets = build_subsets(svc.obj, pods)
        labels = dict(svc.obj["metadata"].get("labels") or {})
        if current is None:
            body = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "labels": labels}}
            if subsets:
                body["subsets"] = subsets
            if not labels:
                del body["metadata"]["labels"]
            self.api.create(self.kind, ns, body)
            return
        obj = current.thaw()
        if subsets:
            obj["subsets"] = subsets
        else:
            obj.pop("subsets", None)
        if labels:
            obj["metadata"]["labels"] = labels
        else:
            obj["metadata"].pop("labels", None)
        self.save("endpoints", obj, current)
