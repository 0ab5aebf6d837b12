"""Per-kind defaulting and validation, the simulator's version of the API server's
"registry strategies".

Only defaults that clients observe or controllers rely on are filled in (replicas,
rolling-update strategy, service cluster IPs and target ports, pod phase and QoS...),
and only validation that catches real mistakes (missing selector, selector not
matching the template, bad names, bad quantities) is done, so product bugs that a real
cluster would reject are rejected here too.
"""
from __future__ import annotations

import base64
import binascii
import re

from . import kruise, quantity
from .errors import invalid
from .registry import Kind
from .selectors import from_label_selector_object

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_NAME_BUCKETS = {"namespaces", "services"}
# Kinds whose metadata.generation tracks spec changes (custom resources always do).
GENERATION_BUCKETS = {"deployments.apps", "replicasets.apps", "statefulsets.apps",
                      "customresourcedefinitions.apiextensions.k8s.io"}


def tracks_generation(kind: Kind) -> bool:
    return kind.custom or kind.bucket in GENERATION_BUCKETS


def validate_name(kind: Kind, name: str) -> None:
    if kind.bucket == "events":
        return
    if kind.bucket in _LABEL_NAME_BUCKETS:
        ok = len(name) <= 63 and _LABEL.fullmatch(name)
        rule = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
    else:
        ok = len(name) <= 253 and _SUBDOMAIN.fullmatch(name)
        rule = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
    if not ok:
        raise invalid(kind.kind, kind.group, name, [("metadata.name", f'Invalid value: "{name}": {rule}')])


# -- pods and pod templates -------------------------------------------------------------

def _image_pull_policy(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def default_pod_spec(spec: dict) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        if container.get("image"):
            container.setdefault("imagePullPolicy", _image_pull_policy(container["image"]))
        for port in container.get("ports") or ():
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def validate_pod_spec(kind: Kind, name: str, spec: dict | None, prefix: str) -> None:
    causes = []
    containers = (spec or {}).get("containers")
    if not containers:
        causes.append((f"{prefix}.containers", "Required value"))
    names = set()
    for i, container in enumerate(containers or ()):
        where = f"{prefix}.containers[{i}]"
        if not isinstance(container, dict):
            causes.append((where, "Invalid value: must be an object"))
            continue
        if not container.get("name"):
            causes.append((f"{where}.name", "Required value"))
        elif container["name"] in names:
            causes.append((f"{where}.name", f'Duplicate value: "{container["name"]}"'))
        names.add(container.get("name"))
        if not container.get("image"):
            causes.append((f"{where}.image", "Required value"))
        for section in ("requests", "limits"):
            for resource, value in ((container.get("resources") or {}).get(section) or {}).items():
                if not quantity.is_valid(value):
                    causes.append((f"{where}.resources.{section}[{resource}]",
                                   f'Invalid value: "{value}": must be a valid quantity'))
    if causes:
        raise invalid(kind.kind, kind.group, name, causes)


def qos_class(spec: dict) -> str:
    containers = spec.get("containers") or []
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        requests, limits = res.get("requests") or {}, res.get("limits") or {}
        any_set = any_set or bool(requests) or bool(limits)
        for r in ("cpu", "memory"):
            if r not in limits or (r in requests and quantity.parse(requests[r]) != quantity.parse(limits[r])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _validate_selector(kind: Kind, name: str, spec: dict) -> None:
    selector = spec.get("selector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        raise invalid(kind.kind, kind.group, name, [("spec.selector", "Required value")])
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not from_label_selector_object(selector).matches(labels):
        raise invalid(kind.kind, kind.group, name, [(
            "spec.template.metadata.labels",
            f"Invalid value: {labels!r}: `selector` does not match template `labels`")])


def _workload(obj: dict, kind: Kind, name: str) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    default_pod_spec(template.setdefault("spec", {}))
    _validate_selector(kind, name, spec)
    validate_pod_spec(kind, name, template.get("spec"), "spec.template.spec")
    if not isinstance(spec["replicas"], int) or spec["replicas"] < 0:
        raise invalid(kind.kind, kind.group, name, [("spec.replicas", "Invalid value: must be greater than or equal to 0")])


# -- per-kind entry points ----------------------------------------------------------------

def prepare(kind: Kind, obj: dict, old: dict | None, allocate) -> None:
    """Default and validate ``obj`` before it is stored (``old`` is None on create).

    ``allocate(what)`` hands out cluster-unique values such as service IPs.
    """
    name = obj["metadata"]["name"]
    bucket = kind.bucket
    if bucket == "pods":
        spec = obj.setdefault("spec", {})
        default_pod_spec(spec)
        validate_pod_spec(kind, name, spec, "spec")
        status = obj.setdefault("status", {})
        status.setdefault("phase", "Pending")
        status["qosClass"] = qos_class(spec)
    elif bucket == "deployments.apps":
        _workload(obj, kind, name)
        spec = obj["spec"]
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxSurge", "25%")
            rolling.setdefault("maxUnavailable", "25%")
        spec.setdefault("progressDeadlineSeconds", 600)
    elif bucket == "replicasets.apps":
        _workload(obj, kind, name)
    elif bucket == "statefulsets.apps":
        _workload(obj, kind, name)
        spec = obj["spec"]
        spec.setdefault("podManagementPolicy", "OrderedReady")
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.get("type") == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {"partition": 0})
    elif bucket == "services":
        _prepare_service(kind, obj, old, allocate)
    elif bucket == "namespaces":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    elif bucket == "secrets":
        _prepare_secret(kind, obj)
        _check_size(kind, obj, sum(len(base64.b64decode(v)) for v in (obj.get("data") or {}).values()))
    elif bucket == "configmaps":
        _check_size(kind, obj, sum(len(str(v)) for f in ("data", "binaryData") for v in (obj.get(f) or {}).values()))
    elif bucket == "resourcequotas":
        hard = (obj.get("spec") or {}).get("hard") or {}
        bad = [(f"spec.hard[{k}]", f'Invalid value: "{v}": must be a valid quantity')
               for k, v in hard.items() if not quantity.is_valid(v)]
        if bad:
            raise invalid(kind.kind, kind.group, name, bad)
    elif bucket == "customresourcedefinitions.apiextensions.k8s.io":
        _prepare_crd(kind, obj)
    elif bucket == kruise.CLONESET_BUCKET:  # kruise-manager's webhooks
        kruise.default_cloneset(obj)
        kruise.validate_cloneset(obj, _validate_selector, validate_pod_spec, kind)


def _prepare_service(kind: Kind, obj: dict, old: dict | None, allocate) -> None:
    spec = obj.setdefault("spec", {})
    old_spec = (old or {}).get("spec") or {}
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        if old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]  # immutable once allocated
        elif not spec.get("clusterIP"):
            spec["clusterIP"] = allocate("service-ip")
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    old_ports = {p.get("port"): p for p in old_spec.get("ports") or ()}
    for i, port in enumerate(spec.get("ports") or ()):
        if not isinstance(port, dict) or not isinstance(port.get("port"), int):
            raise invalid(kind.kind, kind.group, obj["metadata"]["name"], [(f"spec.ports[{i}].port", "Required value")])
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port["port"])
        if spec["type"] in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
            port["nodePort"] = old_ports.get(port["port"], {}).get("nodePort") or allocate("node-port")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    status = obj.setdefault("status", {})
    if spec["type"] == "LoadBalancer" and not (status.get("loadBalancer") or {}).get("ingress"):
        lb = ((old or {}).get("status") or {}).get("loadBalancer") or {}
        status["loadBalancer"] = lb if lb.get("ingress") else {"ingress": [{"ip": allocate("lb-ip"), "ipMode": "VIP"}]}
    status.setdefault("loadBalancer", {})


MAX_DATA_BYTES = 1024 * 1024


def _check_size(kind: Kind, obj: dict, size: int) -> None:
    """ConfigMaps and Secrets hold at most 1 MiB of data, as the API server enforces."""
    if size > MAX_DATA_BYTES:
        field = "data" if kind.bucket == "secrets" else "[]"
        raise invalid(kind.kind, kind.group, obj["metadata"]["name"],
                      [(field, f"Too long: must have at most {MAX_DATA_BYTES} bytes")])


def _prepare_secret(kind: Kind, obj: dict) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    data = obj.setdefault("data", {}) if (string_data or "data" in obj) else None
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    for key, value in (obj.get("data") or {}).items():
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise invalid(kind.kind, kind.group, obj["metadata"]["name"],
                          [(f"data[{key}]", "Invalid value: illegal base64 data")]) from None


def _prepare_crd(kind: Kind, obj: dict) -> None:
    name = obj["metadata"]["name"]
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    causes = []
    for field, value in (("spec.group", spec.get("group")), ("spec.names.plural", names.get("plural")),
                         ("spec.names.kind", names.get("kind")), ("spec.scope", spec.get("scope"))):
        if not value:
            causes.append((field, "Required value"))
    if not spec.get("versions"):
        causes.append(("spec.versions", "Required value"))
    if not causes and name != f"{names['plural']}.{spec['group']}":
        causes.append(("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    if spec.get("scope") not in (None, "Namespaced", "Cluster"):
        causes.append(("spec.scope", 'Unsupported value: must be "Cluster" or "Namespaced"'))
    if causes:
        raise invalid(kind.kind, kind.group, name, causes)
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    storage = next((v["name"] for v in spec["versions"] if v.get("storage")), spec["versions"][0]["name"])
    status = obj.setdefault("status", {})
    status["acceptedNames"] = dict(names)
    status["storedVersions"] = sorted(set(status.get("storedVersions") or []) | {storage})
    if not status.get("conditions"):
        now = obj["metadata"].get("creationTimestamp")
        status["conditions"] = [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now},
        ]
