"""Driving the instance's workloads through federation, and reading them back from the clusters.

Federation side: what the workloads' FederatedResources hold is a pure function of the release's
progress (which steps have started), so applying it again after a crash changes nothing:
- CloneSet: the target template; per cluster an override pinning
  /spec/updateStrategy/partition to total - desired (pods kept on the old revision), desired being
  the highest of the started steps' targets in that cluster. Partition alone decides the batch
  (maxUnavailable 100 %, maxSurge 0 in the rendered updateStrategy).
- Deployment: the target template; clusters not released yet keep the baseline's pod template
  through a per-cluster override of /spec/template (a Deployment's cluster is one batch).
- Rollback: the baseline template everywhere, partition 0.
Overrides the release adds are recognised by their paths and one-cluster selector, so an
operator's own overrides on the same resource are kept.

Non-workload objects (ConfigMaps, Secrets, Services) go to the target's at start with the old ones
kept (pods still on the baseline mount them); the final reconcile removes what is no longer wanted.
Cluster side: reads through clusters/kube.py with short timeouts (a hung cluster must be noticed).
"""
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from kubernetes import client as k8s

from applications import render
from applications.models import InstanceResource
from applications.services import instances as instance_services
from clusters import kube
from clusters.federation import services as federation
from clusters.federation.render import namespace_for

from ..models import Release, StepTarget
from .transitions import SYSTEM

PARTITION_PATH = "/spec/updateStrategy/partition"
TEMPLATE_PATH = "/spec/template"
RELEASE_PATHS = (PARTITION_PATH, TEMPLATE_PATH)
CLONESET = ("apps.kruise.io", "v1alpha1", "clonesets")
_ARMING = ThreadPoolExecutor(max_workers=int(getattr(settings, "RELEASE_ACTION_THREADS", 16)),
                             thread_name_prefix="release-arm")


def call_timeout() -> tuple[float, float]:
    connect, read = getattr(settings, "RELEASE_CLUSTER_CALL_TIMEOUT", (3.0, 10.0))
    return float(connect), float(read)


def namespace(release: Release) -> str:
    return namespace_for(release.tenant.slug, release.environment.slug)


def is_release_override(override: dict) -> bool:
    ops = override.get("operations") or []
    return (len(override.get("clusters") or []) == 1 and bool(ops)
            and all(op.get("path") in RELEASE_PATHS for op in ops))


def workload_links(instance) -> dict[str, InstanceResource]:
    """component -> the instance's workload link (with its resource)."""
    return {link.component: link for link in instance.resource_links.filter(role=InstanceResource.Role.WORKLOAD)
            .select_related("resource__ftype")}


def _rendered(instance, revision) -> list[render.Desired]:
    # The same rendering the direct apply uses (applications/services/instances.py), so a release and
    # an apply of the same revision produce the same objects.
    return render.objects(instance_services._context(instance, revision), revision.spec)


def totals(release: Release) -> dict[tuple[str, str], int]:
    """(component, cluster slug) -> pods of that workload there, from the plan."""
    out = {}
    for cluster in (release.plan or {}).get("clusters", []):
        for component, pods in (cluster.get("pods") or {}).items():
            out[(component, cluster["slug"])] = int(pods)
    return out


def desired_so_far(release: Release, upto: int) -> dict[tuple[str, str], int]:
    """(component, cluster slug) -> pods on the target once the steps up to index `upto` are done."""
    out: dict[tuple[str, str], int] = {}
    for target in (StepTarget.objects.filter(step__release=release, step__index__lte=upto)
                   .select_related("cluster")):
        key = (target.component, target.cluster.slug)
        out[key] = max(out.get(key, 0), target.desired)
    return out


def _overrides(resource, kind: str, *, progress: dict, totals_: dict, component: str, baseline_pod=None,
               rollback: bool = False) -> list:
    keep = [o for o in resource.overrides or [] if not is_release_override(o)]
    clusters = sorted({slug for (comp, slug) in totals_ if comp == component})
    mine = []
    for slug in clusters:
        if kind == "CloneSet":
            value = 0 if rollback else max(totals_[(component, slug)] - progress.get((component, slug), 0), 0)
            mine.append({"clusters": [slug], "operations": [{"op": "add", "path": PARTITION_PATH, "value": value}]})
        elif not rollback and not progress.get((component, slug)) and baseline_pod is not None:
            mine.append({"clusters": [slug], "operations": [{"op": "replace", "path": TEMPLATE_PATH,
                                                              "value": baseline_pod}]})
    return keep + mine


def hold_workloads(release: Release, *, upto: int, rollback: bool = False) -> set[int]:
    """Bring every workload's FederatedResource to the release's progress (steps <= `upto`
    started); on rollback, to the baseline. Returns the ids of the clusters whose rows changed."""
    instance = release.instance
    revision = release.baseline if rollback else release.target
    wanted = {d.component: d for d in _rendered(instance, revision) if d.role == "workload"}
    baseline = {d.component: d for d in _rendered(instance, release.baseline) if d.role == "workload"}
    totals_ = totals(release)
    progress = {} if rollback else desired_so_far(release, upto)
    touched: set[int] = set()
    with transaction.atomic():
        for component, link in workload_links(instance).items():
            item = wanted.get(component)
            if item is None:
                continue
            base = baseline.get(component)
            baseline_pod = base.template["spec"]["template"] if base is not None and base.kind == item.kind else None
            overrides = _overrides(link.resource, item.kind, progress=progress, totals_=totals_, component=component,
                                   baseline_pod=baseline_pod, rollback=rollback)
            generation = link.resource.generation
            resource = federation.federated_resource_update(
                actor=SYSTEM, resource=link.resource, template=item.template, placement=item.placement,
                overrides=overrides, managed_by=instance.owner_key)
            if resource.generation != generation:
                touched.update(resource.propagations.values_list("cluster_id", flat=True))
            if link.revision_id != revision.pk:
                link.revision = revision
                link.save(update_fields=["revision"])
    return touched


def prepare_objects(release: Release) -> set[int]:
    """Non-workload objects of the target added or updated (the baseline's kept)."""
    instance = release.instance
    rendered = _rendered(instance, release.target)
    ftypes = instance_services._types(rendered, release.target.spec)
    desired = [d for d in rendered if d.role != "workload"]
    links = {(link.resource.ftype_id, link.resource.name): link
             for link in instance.resource_links.select_related("resource__ftype")}
    touched: set[int] = set()
    with transaction.atomic():
        for item in desired:
            ftype = ftypes[(item.group, item.kind)]
            link = links.get((ftype.pk, item.name))
            if link is None:
                instance_services._create_owned(SYSTEM, instance, release.target, item, ftype)
                touched.add(-1)
                continue
            generation = link.resource.generation
            resource = federation.federated_resource_update(
                actor=SYSTEM, resource=link.resource, template=item.template, placement=item.placement,
                managed_by=instance.owner_key)
            if resource.generation != generation:
                touched.update(resource.propagations.values_list("cluster_id", flat=True))
    return touched


def finalize(release: Release, revision) -> None:
    """The instance's objects exactly as `revision` renders them: release overrides gone, the other
    revision's ConfigMaps and Secrets removed (inside the caller's transaction)."""
    for link in workload_links(release.instance).values():
        keep = [o for o in link.resource.overrides or [] if not is_release_override(o)]
        if keep != (link.resource.overrides or []):
            federation.federated_resource_update(actor=SYSTEM, resource=link.resource, overrides=keep,
                                                 managed_by=release.instance.owner_key)
    instance_services._reconcile(SYSTEM, release.instance, revision)


# --- reading the clusters --------------------------------------------------------------

@dataclass
class Workload:
    kind: str
    name: str
    namespace: str
    obj: dict  # the workload as the cluster returned it (dict)
    pods: list  # RawObject (a pod read like a V1Pod)


def _selector(obj: dict) -> str:
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def read(cluster, kind: str, name: str, ns: str) -> Workload | None:
    """The workload and its pods in one cluster (None when the workload is not there yet)."""
    api = kube.api_client(cluster)
    timeout = call_timeout()
    try:
        if kind == "CloneSet":
            obj = k8s.CustomObjectsApi(api).get_namespaced_custom_object(*CLONESET[:2], ns, CLONESET[2], name,
                                                                         _request_timeout=timeout)
        else:
            obj = api.sanitize_for_serialization(
                k8s.AppsV1Api(api).read_namespaced_deployment(name, ns, _request_timeout=timeout))
    except k8s.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    answer = k8s.CoreV1Api(api).list_namespaced_pod(ns, label_selector=_selector(obj), _request_timeout=timeout,
                                                   _preload_content=False)
    pods = [RawObject(item) for item in json.loads(answer.data).get("items") or []]
    return Workload(kind, name, ns, obj, pods)


_JSON_NAMES = {"pod_ip": "podIP", "host_ip": "hostIP"}
_PLAIN = frozenset({"labels", "annotations"})


def _json_name(attr: str) -> str:
    if attr in _JSON_NAMES:
        return _JSON_NAMES[attr]
    head, *rest = attr.split("_")
    return head + "".join(part.title() for part in rest)


def _wrap(value):
    if isinstance(value, dict):
        return RawObject(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class RawObject:
    """A Kubernetes object as the API returned it (JSON), read with the client models' snake_case
    attribute names (pod.metadata.name, pod.status.container_statuses...). The client's own
    deserialisation into V1Pod costs ~6 ms a pod: 0.3-0.6 s per pass of a 50-pod workload on
    the executor's threads (measured), which delayed every drain and warm-up behind it."""

    __slots__ = ("_data",)

    def __init__(self, data: dict):
        self._data = data

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        value = self._data.get(_json_name(attr))
        return value if attr in _PLAIN else _wrap(value)

    def to_dict(self) -> dict:
        return self._data


def patch_pod_labels(cluster, ns: str, pod: str, labels: dict) -> None:
    k8s.CoreV1Api(kube.api_client(cluster)).patch_namespaced_pod(
        pod, ns, {"metadata": {"labels": labels}}, _request_timeout=call_timeout())



def arm_hooks(cluster, name: str, ns: str, label: str) -> int:
    """Pods of a CloneSet whose inPlaceUpdate hook names `label` but that do not carry it yet (made
    by a direct apply, which renders no hooks) get it set to "true", so the controller parks them in
    PreparingUpdate instead of updating them at once (OpenKruise only waits for a hooked pod).
    Must run before the partition is lowered. Returns how many pods were armed."""
    found = read(cluster, "CloneSet", name, ns)
    if found is None:
        return 0
    hook = (((found.obj.get("spec") or {}).get("lifecycle") or {}).get("inPlaceUpdate") or {})
    if label not in (hook.get("labelsHandler") or {}):
        return 0
    names = [pod.metadata.name for pod in found.pods
             if pod.metadata.deletion_timestamp is None and label not in (pod.metadata.labels or {})]
    # Side by side: fifty patches in a row held the step's start for ~0.5 s (measured).
    for _ in _ARMING.map(lambda pod: patch_pod_labels(cluster, ns, pod, {label: "true"}), names):
        pass
    return len(names)
