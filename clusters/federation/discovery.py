"""Cross-cluster service discovery for a federated Service.

Endpoints are read live from every cluster that holds the Service (through the
client, with short timeouts, in parallel so one slow cluster does not add up),
then grouped by cell and zone. Each cell gets a global name
`<service>.<namespace>.<cell>.global`; `<service>.<namespace>.global` spans all.
"""
from concurrent.futures import ThreadPoolExecutor

from django.utils.translation import gettext as _
from kubernetes.client import ApiException

from clusters import kube
from clusters.crypto import CredentialsUnreadable
from paas.errors import DomainError

from . import kubeio
from .models import Propagation
from .render import namespace_for

State = Propagation.State


def is_service(resource) -> bool:
    return resource.ftype.group == "" and resource.ftype.kind == "Service"


def _read_endpoints(client, namespace: str, name: str) -> dict:
    entry = {"ready": [], "not_ready": [], "ports": [], "error": ""}
    try:
        if isinstance(client, Exception):
            raise client
        found = kubeio.get(client, f"/api/v1/namespaces/{namespace}/endpoints/{name}",
                           timeout=kubeio.INTERACTIVE_TIMEOUT)
    except (kubeio.ClusterUnreachable, CredentialsUnreadable) as exc:
        entry["error"] = _("unreachable: %(e)s") % {"e": str(exc)[:200]}
        return entry
    except ApiException as exc:
        entry["error"] = kubeio.error_text(exc)
        return entry
    for subset in (found or {}).get("subsets") or ():
        ports = [p.get("port") for p in subset.get("ports") or () if p.get("port")]
        entry["ports"] = sorted(set(entry["ports"]) | set(ports))
        for key, target in (("addresses", "ready"), ("notReadyAddresses", "not_ready")):
            for address in subset.get(key) or ():
                entry[target].append({"ip": address.get("ip"), "node": address.get("nodeName", ""),
                                      "pod": (address.get("targetRef") or {}).get("name", "")})
    return entry


def _client(cluster):
    try:
        return kube.api_client(cluster)
    except CredentialsUnreadable as exc:
        return exc


def service_endpoints(resource) -> dict:
    if not is_service(resource):
        raise DomainError(_("Service discovery applies to federated Services only."), field="ftype")
    name = resource.name
    namespace = namespace_for(resource.tenant.slug, resource.environment.slug)
    rows = [r for r in resource.propagations.select_related("cluster__cell__zone__region")
            if r.state not in (State.REMOVED, State.REMOVING)]
    holding = [r for r in rows if r.applied_hash or r.state == State.APPLIED]
    clients = {r.pk: _client(r.cluster) for r in holding}  # here: worker threads must not touch the database
    with ThreadPoolExecutor(max_workers=min(8, len(holding) or 1)) as pool:
        reads = dict(zip([r.pk for r in holding],
                         pool.map(lambda r: _read_endpoints(clients[r.pk], namespace, name), holding), strict=True))
    cells: dict[str, dict] = {}
    for row in sorted(rows, key=lambda r: r.cluster.slug):
        cluster = row.cluster
        cell = cells.setdefault(cluster.cell.slug, {
            "cell": cluster.cell.slug, "zone": cluster.cell.zone.slug, "region": cluster.cell.zone.region.slug,
            "global_name": f"{name}.{namespace}.{cluster.cell.slug}.global", "clusters": [], "ready": 0})
        entry = reads.get(row.pk) or {"ready": [], "not_ready": [], "ports": [],
                                      "error": _("not yet applied to this cluster")}
        cell["clusters"].append({"cluster": cluster.slug, "state": row.state, **entry})
        cell["ready"] += len(entry["ready"])
    zones: dict[str, dict] = {}
    for cell in cells.values():
        zone = zones.setdefault(cell["zone"], {"zone": cell["zone"], "region": cell["region"], "cells": [],
                                               "ready": 0})
        zone["cells"].append(cell["cell"])
        zone["ready"] += cell["ready"]
    return {"service": name, "namespace": namespace, "global_name": f"{name}.{namespace}.global",
            "cells": list(cells.values()), "zones": list(zones.values()),
            "ready": sum(c["ready"] for c in cells.values())}
