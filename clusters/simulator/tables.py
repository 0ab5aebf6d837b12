"""Server-side printing: ``meta.k8s.io/v1`` Table rows, which kubectl asks for on get/watch.

kubectl sends ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the
columns it gets back; the column sets here follow kube-apiserver's printers for the
kinds the product uses, and CRDs' ``additionalPrinterColumns``.
"""
from __future__ import annotations

import calendar
import re
import time

from .registry import Kind
from .selectors import selector_object_to_string

COL = tuple[str, str, int]  # (name, type, priority)

_AGE: COL = ("Age", "string", 0)
_NAME: COL = ("Name", "string", 0)

COLUMNS: dict[str, list[COL]] = {
    "pods": [_NAME, ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0), _AGE,
             ("IP", "string", 1), ("Node", "string", 1), ("Nominated Node", "string", 1),
             ("Readiness Gates", "string", 1)],
    "deployments.apps": [_NAME, ("Ready", "string", 0), ("Up-to-date", "integer", 0), ("Available", "integer", 0),
                         _AGE, ("Containers", "string", 1), ("Images", "string", 1), ("Selector", "string", 1)],
    "replicasets.apps": [_NAME, ("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0), _AGE,
                         ("Containers", "string", 1), ("Images", "string", 1), ("Selector", "string", 1)],
    "statefulsets.apps": [_NAME, ("Ready", "string", 0), _AGE, ("Containers", "string", 1), ("Images", "string", 1)],
    "nodes": [_NAME, ("Status", "string", 0), ("Roles", "string", 0), _AGE, ("Version", "string", 0),
              ("Internal-IP", "string", 1), ("External-IP", "string", 1), ("OS-Image", "string", 1),
              ("Kernel-Version", "string", 1), ("Container-Runtime", "string", 1)],
    "services": [_NAME, ("Type", "string", 0), ("Cluster-IP", "string", 0), ("External-IP", "string", 0),
                 ("Port(s)", "string", 0), _AGE, ("Selector", "string", 1)],
    "endpoints": [_NAME, ("Endpoints", "string", 0), _AGE],
    "namespaces": [_NAME, ("Status", "string", 0), _AGE],
    "configmaps": [_NAME, ("Data", "integer", 0), _AGE],
    "secrets": [_NAME, ("Type", "string", 0), ("Data", "integer", 0), _AGE],
    "serviceaccounts": [_NAME, ("Secrets", "integer", 0), _AGE],
    "events": [("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
               ("Object", "string", 0), ("Subobject", "string", 1), ("Source", "string", 1),
               ("Message", "string", 0), ("First Seen", "string", 1), ("Count", "string", 1),
               ("Name", "string", 1)],
    "resourcequotas": [_NAME, _AGE, ("Request", "string", 0), ("Limit", "string", 0)],
    "customresourcedefinitions.apiextensions.k8s.io": [_NAME, ("Created At", "date", 0)],
}


def human_duration(seconds: float) -> str:
    """kubectl's age format (k8s.io/apimachinery/pkg/util/duration.HumanDuration)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = s // 86400
    if h < 192:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 730:
        return f"{d}d"
    y = d // 365
    if d < 365 * 8:
        return f"{y}y{d % 365}d" if d % 365 else f"{y}y"
    return f"{y}y"


def _age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    then = calendar.timegm(time.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S"))
    return human_duration(time.time() - then)


def column_definitions(kind: Kind) -> list[dict]:
    cols = COLUMNS.get(kind.bucket)
    if cols is None:
        cols = [_NAME] + [(n, "date" if t == "date" else t, p) for n, t, _, p in kind.printer_columns]
        if not any(t == "date" for _, t, _, _ in kind.printer_columns):
            cols.append(_AGE)
    return [{"name": n, "type": t, "format": "name" if n == "Name" else "", "description": n, "priority": p}
            for n, t, p in cols]


def _containers(obj: dict) -> list[dict]:
    return ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []


def _selector_text(selector: dict | None) -> str:
    return selector_object_to_string(selector) or "<none>"


def _pod_status(pod: dict) -> str:
    meta, status = pod["metadata"], pod.get("status") or {}
    if meta.get("deletionTimestamp"):
        return "Terminating"
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("containerStatuses") or ():
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
    return reason


def _ports(svc: dict) -> str:
    parts = []
    for p in (svc.get("spec") or {}).get("ports") or ():
        text = f"{p.get('port')}"
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        parts.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _cells(kind: Kind, obj: dict) -> list:
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    name = meta["name"]
    age = _age(meta.get("creationTimestamp"))
    bucket = kind.bucket
    if bucket == "pods":
        statuses = status.get("containerStatuses") or []
        ready = sum(1 for s in statuses if s.get("ready"))
        restarts = sum(s.get("restartCount", 0) for s in statuses)
        return [name, f"{ready}/{len(spec.get('containers') or [])}", _pod_status(obj), str(restarts), age,
                status.get("podIP") or "<none>", spec.get("nodeName") or "<none>", "<none>", "<none>"]
    if bucket in ("deployments.apps", "replicasets.apps", "statefulsets.apps"):
        containers = _containers(obj)
        names = ",".join(c.get("name", "") for c in containers)
        images = ",".join(c.get("image", "") for c in containers)
        replicas = spec.get("replicas", 1)
        if bucket == "deployments.apps":
            return [name, f"{status.get('readyReplicas', 0)}/{replicas}", status.get("updatedReplicas", 0),
                    status.get("availableReplicas", 0), age, names, images, _selector_text(spec.get("selector"))]
        if bucket == "replicasets.apps":
            return [name, replicas, status.get("replicas", 0), status.get("readyReplicas", 0), age, names, images,
                    _selector_text(spec.get("selector"))]
        return [name, f"{status.get('readyReplicas', 0)}/{replicas}", age, names, images]
    if bucket == "nodes":
        ready = next((c.get("status") for c in status.get("conditions") or () if c.get("type") == "Ready"), "Unknown")
        text = "Ready" if ready == "True" else "NotReady"
        if spec.get("unschedulable"):
            text += ",SchedulingDisabled"
        roles = ",".join(sorted(k.split("/", 1)[1] for k in meta.get("labels") or {}
                                if k.startswith("node-role.kubernetes.io/"))) or "<none>"
        info = status.get("nodeInfo") or {}
        addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or ()}
        return [name, text, roles, age, info.get("kubeletVersion", ""), addresses.get("InternalIP", "<none>"),
                addresses.get("ExternalIP", "<none>"), info.get("osImage", ""), info.get("kernelVersion", ""),
                info.get("containerRuntimeVersion", "")]
    if bucket == "services":
        ingress = ((status.get("loadBalancer") or {}).get("ingress") or [])
        external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or (
            "<pending>" if spec.get("type") == "LoadBalancer" else "<none>")
        selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or "<none>"
        return [name, spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>", external, _ports(obj), age,
                selector]
    if bucket == "endpoints":
        addrs = [f"{a['ip']}:{p['port']}" for s in obj.get("subsets") or () for a in s.get("addresses") or ()
                 for p in s.get("ports") or [{"port": ""}]]
        text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
        return [name, text or "<none>", age]
    if bucket == "namespaces":
        return [name, status.get("phase", "Active"), age]
    if bucket == "configmaps":
        return [name, len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), age]
    if bucket == "secrets":
        return [name, obj.get("type", "Opaque"), len(obj.get("data") or {}), age]
    if bucket == "serviceaccounts":
        return [name, len(obj.get("secrets") or ()), age]
    if bucket == "events":
        return _event_cells(obj)
    if bucket == "resourcequotas":
        hard, used = status.get("hard") or {}, status.get("used") or {}
        req = ", ".join(f"{r}: {used.get(r, '0')}/{v}" for r, v in sorted(hard.items()) if not r.startswith("limits."))
        lim = ", ".join(f"{r}: {used.get(r, '0')}/{v}" for r, v in sorted(hard.items()) if r.startswith("limits."))
        return [name, age, req, lim]
    if bucket == "customresourcedefinitions.apiextensions.k8s.io":
        return [name, meta.get("creationTimestamp")]
    cells = [name]
    for _, type_, path, _ in kind.printer_columns:
        value = json_path(obj, path)
        cells.append(_age(value) if type_ == "date" and value else value)
    if not any(t == "date" for _, t, _, _ in kind.printer_columns):
        cells.append(age)
    return cells


def _event_cells(event: dict) -> list:
    """As kube-apiserver's printEvent: repeats shown as "5s (x4 over 2m)"."""
    involved = event.get("involvedObject") or {}
    source = event.get("source") or {}
    first = event.get("firstTimestamp") or event.get("eventTime")
    last = event.get("lastTimestamp") or ((event.get("series") or {}).get("lastObservedTime")) or event.get("eventTime")
    count = event.get("count") or (event.get("series") or {}).get("count") or 1
    last_seen = f"{_age(last)} (x{count} over {_age(first)})" if count > 1 else _age(last)
    source_text = source.get("component") or event.get("reportingComponent", "")
    if source.get("host"):
        source_text += f", {source['host']}"
    return [last_seen, event.get("type", ""), event.get("reason", ""),
            f"{(involved.get('kind') or '').lower()}/{involved.get('name', '')}", involved.get("fieldPath", ""),
            source_text, event.get("message", ""), _age(first), str(count), event["metadata"]["name"]]


_FILTER = re.compile(r"\[\?\(@\.([\w.]+)\s*==\s*[\"']([^\"']*)[\"']\)\]")


def json_path(obj, path: str):
    """The subset of JSONPath CRD printer columns use: .a.b, [n], [*], [?(@.k=="v")]."""
    current = obj
    tokens = re.findall(r"\.[\w-]+|\[\d+\]|\[\*\]|\[\?\([^)]*\)\]", path or "")
    for i, token in enumerate(tokens):
        if current is None:
            return None
        if token == "[*]":  # every item: kubectl prints the values joined with commas
            if not isinstance(current, list):
                return None
            rest = "".join(tokens[i + 1:])
            values = [json_path(item, rest) if rest else item for item in current]
            return ",".join(str(v) for v in values if v is not None)
        if token.startswith("."):
            current = current.get(token[1:]) if isinstance(current, dict) else None
        elif token.startswith("[?"):
            m = _FILTER.fullmatch(token)
            if not m or not isinstance(current, list):
                return None
            field, wanted = m.groups()
            current = next((item for item in current if isinstance(item, dict)
                            and str(json_path(item, "." + field)) == wanted), None)
        else:
            index = int(token[1:-1])
            current = current[index] if isinstance(current, list) and index < len(current) else None
    return current


def row(kind: Kind, obj: dict, include: str = "Metadata") -> dict:
    out = {"cells": _cells(kind, obj)}
    if include == "Object":
        out["object"] = obj
    elif include != "None":
        out["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
    return out


def table_head(kind: Kind, resource_version: str, continue_token: str = "", with_columns: bool = True) -> dict:
    meta = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    head = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    if with_columns:
        head["columnDefinitions"] = column_definitions(kind)
    return head
