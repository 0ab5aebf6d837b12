"""What a change would do in each member cluster, before (or after) it is saved.

For every cluster the resource is (or would be) placed on: the rendered object,
what the cluster holds now (read live through the client), and a unified diff
of the two as YAML. The live object is compared on the fields the platform sets
(server defaults and status are left out), so the diff shows real changes.
Sensitive values (Secret data, fields the type marks) are "***" on both sides and
in every error text. Previewing needs the permission of the change it previews
(manage_applications, as for create and update): a preview reads what member
clusters hold and accepts "***" placeholders, so it is not a read-only view.
"""
import difflib
from concurrent.futures import ThreadPoolExecutor

from django.utils.translation import gettext as _
from kubernetes.client import ApiException

from clusters import kube
from clusters.crypto import CredentialsUnreadable
from paas.actors import Actor
from paas.permissions import authorize

from . import kubeio, scheduling, sensitive
from .forms import dump_document
from .models import FederatedResource, Propagation
from .render import RenderError, namespace_for, render

State = Propagation.State


def _project(live, desired):
    """The part of `live` that has the shape of `desired`."""
    if isinstance(live, dict) and isinstance(desired, dict):
        return {k: _project(live[k], v) for k, v in desired.items() if k in live}
    if isinstance(live, list) and isinstance(desired, list) and len(live) == len(desired):
        return [_project(a, b) for a, b in zip(live, desired, strict=True)]
    return live


def _yaml(obj) -> str:
    return dump_document(obj, sort_keys=True) if obj is not None else ""


def _client(cluster):
    try:
        return kube.api_client(cluster), ""
    except CredentialsUnreadable as exc:
        return None, str(exc)


def _read(client_error, path):
    client, error = client_error
    if client is None:
        return None, error
    try:
        return kubeio.get(client, path, timeout=kubeio.INTERACTIVE_TIMEOUT), ""
    except kubeio.ClusterUnreachable as exc:
        return None, _("unreachable: %(e)s") % {"e": str(exc)[:200]}
    except ApiException as exc:
        return None, kubeio.error_text(exc)


def authorize_preview(actor: Actor, resource: FederatedResource) -> None:
    """The permission of the change previewed (update; create and delete need the same)."""
    authorize(actor, "manage_applications", resource, action="federation.resource.preview")


def preview(*, actor: Actor, resource: FederatedResource, template=None, placement=None,
            overrides=None) -> list[dict]:
    """Per cluster: {cluster, cell, action, replicas, rendered (YAML), diff, error}."""
    authorize_preview(actor, resource)
    from .services import validate_input, with_placeholders

    patterns = sensitive.patterns_for(resource.ftype)
    proposed = any(v is not None for v in (template, placement, overrides))
    template, overrides = with_placeholders(resource.ftype, template=template, overrides=overrides,
                                            stored_template=resource.template, stored_overrides=resource.overrides)
    template = resource.template if template is None else template
    overrides = resource.overrides if overrides is None else overrides
    placement = resource.placement if placement is None else placement
    if proposed:
        template, placement, overrides, plan, topology = validate_input(
            ftype=resource.ftype, environment=resource.environment, name=resource.name, template=template,
            placement=placement, overrides=overrides)
    else:
        topology = scheduling.topology_for(resource.environment)
        plan = scheduling.plan_for(resource.ftype, template, placement, topology)
    targets = {} if resource.deleting else plan.targets
    rows = {r.cluster.slug: r for r in resource.propagations.select_related("cluster__cell__zone__region")}
    slugs = sorted(set(targets) | {s for s, r in rows.items() if r.state != State.REMOVED})
    clusters = {c.slug: c for c in scheduling.TopologySnapshot().clusters if c.slug in slugs}
    namespace = namespace_for(resource.tenant.slug, resource.environment.slug)
    path = resource.ftype.object_path(resource.name, namespace if resource.ftype.namespaced else None)
    clients = {s: _client(clusters[s]) for s in slugs}  # here: worker threads must not touch the database
    with ThreadPoolExecutor(max_workers=min(8, len(slugs) or 1)) as pool:
        reads = dict(zip(slugs, pool.map(lambda s: _read(clients[s], path), slugs), strict=True))
    generation = resource.generation + (1 if proposed else 0)
    values = sensitive.values_of(patterns, template=template, overrides=overrides,
                                 objects=[r[0] for r in reads.values() if r[0] is not None])
    values |= sensitive.resource_values(resource)
    out = []
    for slug in slugs:
        cluster, (live, error) = clusters[slug], reads[slug]
        error = sensitive.scrub(error, values)
        entry = {"cluster": slug, "cell": cluster.cell.slug, "replicas": targets.get(slug), "error": error,
                 "rendered": "", "diff": ""}
        desired = None
        if slug in targets:
            try:
                desired = render(template, namespace=namespace if resource.ftype.namespaced else None,
                                 planned_replicas=targets[slug], replicas_path=resource.ftype.replicas_path,
                                 overrides=overrides, cluster_slug=slug, cluster_labels=cluster.topology_labels(),
                                 resource_id=resource.pk, generation=generation, tenant_slug=resource.tenant.slug,
                                 env_slug=resource.environment.slug)
            except RenderError as exc:
                entry.update(action="error", error=sensitive.scrub(str(exc), values))
                out.append(entry)
                continue
        desired_shown = sensitive.mask(desired, patterns)
        live_shown = sensitive.mask(_project(live, desired) if desired is not None else live, patterns)
        if live_shown is not None and desired is None:
            live_shown = {k: v for k, v in live_shown.items() if k in ("apiVersion", "kind", "metadata")}
            live_shown["metadata"] = {k: live_shown["metadata"].get(k) for k in ("name", "namespace")}
        entry["rendered"] = _yaml(desired_shown)
        entry["diff"] = "\n".join(difflib.unified_diff(
            _yaml(live_shown).splitlines(), _yaml(desired_shown).splitlines(),
            fromfile=f"{slug} (live)", tofile=f"{slug} (desired)", lineterm=""))
        if error and live is None:
            entry["action"] = "unknown"
        elif desired is None:
            entry["action"] = "delete" if live is not None else "absent"
        elif live is None:
            entry["action"] = "create"
        else:
            entry["action"] = "update" if entry["diff"] else "unchanged"
        out.append(entry)
    return out
