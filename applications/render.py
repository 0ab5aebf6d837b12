"""A revision in one instance -> the Kubernetes objects to federate. Pure.

Per component: the workload (a Deployment, or an OpenKruise CloneSet), a Service when it has
ports, a ConfigMap of its config files and a Secret of its secret env; per instance, one
imagePullSecret with a login per registry its images come from (the built-in one and external
ones, applications/pull_secrets.py) when there is any. Each comes with the federation placement
it goes out with.

ConfigMaps and Secrets are named after their content ("payments-api-config-1a2b3c4d"), as
kustomize's generators do: changing a config file changes the pod template, so the workload
rolls (a ConfigMap updated in place would reach pods only on their next restart, and a release
running two revisions side by side needs both contents at once). Those no longer referenced are
deleted by the apply.
"""
import base64
import hashlib
import json
import re
from dataclasses import dataclass, field

from .validation import object_name

APPLICATION_LABEL = "app.stratus.io/application"
INSTANCE_LABEL = "app.stratus.io/instance"
REVISION_LABEL = "app.stratus.io/revision"
COMPONENT_LABEL = "app.stratus.io/component"
EXCLUSIVE_CPUS_ANNOTATION = "app.stratus.io/exclusive-cpus"
CPUSET_LABEL = "app.stratus.io/cpuset"
CLONESET_GROUP, CLONESET_VERSION = "apps.kruise.io", "v1alpha1"
# OpenKruise lifecycle hook of every CloneSet pod: while the label is "true" the CloneSet controller
# parks a pod it is about to update in place (state PreparingUpdate) or delete (PreparingDelete);
# the release engine takes the pod out of traffic, sets it to "false" to let the controller go on,
# and back to "true" once the updated pod serves again (Updated -> Normal).
TRAFFIC_HOOK_LABEL = "paas.io/traffic-hook"
PROBE_TIMINGS = {"initial_delay_seconds": "initialDelaySeconds", "period_seconds": "periodSeconds",
                 "timeout_seconds": "timeoutSeconds", "failure_threshold": "failureThreshold"}


@dataclass
class Desired:
    group: str
    version: str
    kind: str
    name: str
    template: dict
    placement: dict
    role: str  # InstanceResource.Role
    component: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@dataclass
class Context:
    application: str  # name
    instance_id: int
    revision: int  # number
    environment_kind: str
    placement: dict  # the instance's (no totalReplicas)
    secret_values: dict  # component -> {NAME: value}
    # registry host -> (username, password), one `auths` entry each in the instance's pull secret
    pull_auths: dict[str, tuple[str, str]] = field(default_factory=dict)
    # CloneSets' updateStrategy.partition: how many pods stay on the previous revision (an int or
    # "N%"). 0 updates every pod at once; a release renders the total and lowers it per batch.
    partition: int | str = 0
    # The traffic hooks on CloneSets: on for releases (the engine releases each pod's hook once it
    # is out of traffic); off for direct applies, where nobody would, and pods would wait forever.
    traffic_hooks: bool = True


def _short_hash(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:8]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def labels(ctx: Context, component: str = "") -> dict:
    out = {APPLICATION_LABEL: ctx.application, INSTANCE_LABEL: str(ctx.instance_id),
           REVISION_LABEL: str(ctx.revision)}
    if component:
        out[COMPONENT_LABEL] = component
    return out


def selection(placement: dict) -> dict:
    """The placement without replica scheduling: where non-replicated objects go."""
    return {k: v for k, v in (placement or {}).items() if k != "replicaScheduling"}


def workload_placement(placement: dict, replicas: int) -> dict:
    scheduling = (placement or {}).get("replicaScheduling") or {}
    out = selection(placement)
    if scheduling.get("type") == "Divided":
        out["replicaScheduling"] = {**scheduling, "totalReplicas": replicas}
    return out


def replicas_for(component: dict, environment_kind: str) -> int:
    return int((component.get("replicas") or {}).get(environment_kind, 1))


def config_key(index: int, path: str) -> str:
    base = re.sub(r"[^-._a-zA-Z0-9]", "-", path.rsplit("/", 1)[-1]) or "file"
    return f"f{index}-{base}"[:253]


def _probe(probe: dict) -> dict | None:
    if not probe:
        return None
    if probe["type"] == "http":
        out = {"httpGet": {"path": probe.get("path", "/"), "port": probe["port"]}}
    elif probe["type"] == "tcp":
        out = {"tcpSocket": {"port": probe["port"]}}
    else:
        out = {"exec": {"command": list(probe["command"])}}
    for key, name in PROBE_TIMINGS.items():
        if key in probe:
            out[name] = probe[key]
    return out


def container_resources(component: dict) -> dict:
    resources = {part: dict(values) for part, values in (component.get("resources") or {}).items() if values}
    cores = component.get("cpuset_cores") or 0
    if cores:
        # Exclusive cores: kubelets running the static CPU manager policy (--cpu-manager-policy=static)
        # pin a container to whole cores when its pod is Guaranteed QoS (requests = limits for cpu and
        # memory in every container) and its cpu is an integer. Nothing in the pod asks for pinning:
        # these figures are the whole request. The annotation/label added to the pod only say what
        # was meant, for operators and for a scheduler rule that keeps such pods on static-policy nodes.
        requests, limits = resources.setdefault("requests", {}), resources.setdefault("limits", {})
        requests["cpu"] = limits["cpu"] = str(cores)
        if "memory" in limits:
            requests["memory"] = limits["memory"]
    return resources


def _container(component: dict, *, config_map: str | None, secret: str | None) -> dict:
    container = {"name": component["name"], "image": component["image"]}
    if component.get("command"):
        container["command"] = list(component["command"])
    if component.get("args"):
        container["args"] = list(component["args"])
    if component.get("ports"):
        container["ports"] = [{"name": p["name"], "containerPort": p["port"], "protocol": p["protocol"]}
                              for p in component["ports"]]
    env = [{"name": e["name"], "value": e["value"]} for e in component.get("env") or ()]
    for name in (component.get("secret_env") or {}).get("names", []):
        env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": name}}})
    if env:
        container["env"] = env
    resources = container_resources(component)
    if resources:
        container["resources"] = resources
    for key, attr in (("liveness_probe", "livenessProbe"), ("readiness_probe", "readinessProbe")):
        probe = _probe(component.get(key) or {})
        if probe:
            container[attr] = probe
    if config_map:
        container["volumeMounts"] = [{"name": "config", "mountPath": f["path"], "subPath": config_key(i, f["path"]),
                                      "readOnly": True} for i, f in enumerate(component["config_files"])]
    return container


def workload(ctx: Context, component: dict, *, config_map: str | None, secret: str | None,
             pull_secret: str | None) -> Desired:
    name = object_name(ctx.application, component["name"])
    selector = {APPLICATION_LABEL: ctx.application, COMPONENT_LABEL: component["name"]}
    pod_labels = labels(ctx, component["name"])
    pod_meta = {"labels": pod_labels}
    if component.get("cpuset_cores"):
        pod_labels[CPUSET_LABEL] = "exclusive"
        pod_meta["annotations"] = {EXCLUSIVE_CPUS_ANNOTATION: str(component["cpuset_cores"])}
    pod = {"containers": [_container(component, config_map=config_map, secret=secret)]}
    if config_map:
        pod["volumes"] = [{"name": "config", "configMap": {"name": config_map}}]
    if pull_secret:
        pod["imagePullSecrets"] = [{"name": pull_secret}]
    replicas = replicas_for(component, ctx.environment_kind)
    spec = {"replicas": replicas, "selector": {"matchLabels": selector},
            "template": {"metadata": pod_meta, "spec": pod}}
    if component.get("workload_kind") == "cloneset":
        group, version, kind = CLONESET_GROUP, CLONESET_VERSION, "CloneSet"
        # In-place upgrades when only images (and pod labels, e.g. the revision) change: what
        # clusters running OpenKruise are for. maxUnavailable 100% and no surge, so the partition
        # alone decides how many pods move, and the lifecycle hooks hold each one until the
        # release engine has taken it out of traffic.
        spec["updateStrategy"] = {"type": "InPlaceIfPossible", "partition": ctx.partition,
                                  "maxUnavailable": "100%", "maxSurge": 0}
        if ctx.traffic_hooks:
            hook = {"labelsHandler": {TRAFFIC_HOOK_LABEL: "true"}}
            spec["lifecycle"] = {"inPlaceUpdate": hook, "preDelete": json.loads(json.dumps(hook))}
            pod_labels[TRAFFIC_HOOK_LABEL] = "true"
    else:
        group, version, kind = "apps", "v1", "Deployment"
    template = {"apiVersion": f"{group}/{version}", "kind": kind,
                "metadata": {"name": name, "labels": labels(ctx, component["name"])}, "spec": spec}
    return Desired(group, version, kind, name, template, workload_placement(ctx.placement, replicas),
                   "workload", component["name"])


def service(ctx: Context, component: dict) -> Desired:
    name = object_name(ctx.application, component["name"])
    template = {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "labels": labels(ctx, component["name"])},
                "spec": {"selector": {APPLICATION_LABEL: ctx.application, COMPONENT_LABEL: component["name"]},
                         "ports": [{"name": p["name"], "port": p["port"], "targetPort": p["port"],
                                    "protocol": p["protocol"]} for p in component["ports"]]}}
    return Desired("", "v1", "Service", name, template, selection(ctx.placement), "service", component["name"])


def config_map(ctx: Context, component: dict) -> Desired:
    data = {config_key(i, f["path"]): f["content"] for i, f in enumerate(component["config_files"])}
    name = f"{object_name(ctx.application, component['name'])}-config-{_short_hash(data)}"
    template = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": labels(ctx, component["name"])}, "data": data}
    return Desired("", "v1", "ConfigMap", name, template, selection(ctx.placement), "config", component["name"])


def secret(ctx: Context, component: dict) -> Desired:
    values = ctx.secret_values.get(component["name"], {})
    version = (component.get("secret_env") or {}).get("version", "") or _short_hash(sorted(values))
    name = f"{object_name(ctx.application, component['name'])}-env-{version[:8]}"
    template = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name, "labels": labels(ctx, component["name"])},
                "data": {key: _b64(value) for key, value in sorted(values.items())}}
    return Desired("", "v1", "Secret", name, template, selection(ctx.placement), "secret", component["name"])


def pull_secret(ctx: Context) -> Desired:
    # One Secret for every registry: a pod lists it once, and the kubelet picks the entry whose
    # key matches the image's host. Its name stays the same when registries come and go, so a
    # change of logins updates it in place.
    auths = {host: {"username": username, "password": password, "auth": _b64(f"{username}:{password}")}
             for host, (username, password) in sorted(ctx.pull_auths.items())}
    name = f"{ctx.application}-pull"
    template = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                "metadata": {"name": name, "labels": labels(ctx)},
                "data": {".dockerconfigjson": _b64(json.dumps({"auths": auths}, sort_keys=True))}}
    return Desired("", "v1", "Secret", name, template, selection(ctx.placement), "pull-secret")


def objects(ctx: Context, spec: dict) -> list[Desired]:
    out = []
    pull = pull_secret(ctx) if ctx.pull_auths else None
    if pull:
        out.append(pull)
    for component in spec.get("components", []):
        cm = config_map(ctx, component) if component.get("config_files") else None
        sec = secret(ctx, component) if (component.get("secret_env") or {}).get("names") else None
        out.extend(x for x in (cm, sec) if x)
        out.append(workload(ctx, component, config_map=cm.name if cm else None, secret=sec.name if sec else None,
                            pull_secret=pull.name if pull else None))
        if component.get("ports"):
            out.append(service(ctx, component))
    return out
