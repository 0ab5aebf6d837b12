"""The admin HTTP port: one for all simulated clusters, up even when a cluster is down.

  GET  /healthz
  GET  /clusters                          name, URL, kubeconfig path and faults of each
  GET  /clusters/<name>/faults            current fault settings
  POST /clusters/<name>/faults            partial update, e.g. {"down": true} or
                                          {"latency_ms": 200, "error_rate_500": 0.1}
  POST /clusters/<name>/compact           drop watch history (old resourceVersions -> 410)
  POST /clusters/<name>/bulk              {"nodes": N, "pods": M, "namespaces": K, "apps": A}
  GET  /clusters/<name>/stats             object counts, resourceVersion, watchers, pid, RSS

The same faults/stats endpoints are also served on each cluster's own port under
``/_sim/`` (with its bearer token) while the cluster is up. With ``--processes`` the
parent serves this port and forwards to the child owning the cluster (``processes.py``).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import web

from .bulk import bulk_load

if TYPE_CHECKING:
    from .server import SimCluster, SimServer


def rss_bytes() -> dict:
    """Current and peak resident set size of this process (Linux /proc)."""
    out = {}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return {"rss": out.get("VmRSS"), "peak_rss": out.get("VmHWM")}


def _json(data, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, indent=1), status=status, content_type="application/json")


async def cluster_admin(cluster: SimCluster, request: web.BaseRequest, action: str) -> web.Response:
    """One admin action on one cluster (shared by the admin port and the cluster's /_sim/)."""
    method = request.method
    if action == "faults":
        if method == "GET":
            return _json(cluster.faults.to_dict())
        if method in ("POST", "PUT", "PATCH"):
            try:
                data = json.loads(await request.read() or b"{}")
                cluster.faults.update(data)
            except ValueError as exc:
                return _json({"error": str(exc)}, 400)
            await cluster.apply_down_state()
            return _json(cluster.faults.to_dict())
    elif action == "compact" and method == "POST":
        return _json({"compactedResourceVersion": cluster.store.compact()})
    elif action == "bulk" and method == "POST":
        try:
            spec = json.loads(await request.read() or b"{}")
            args = {k: int(spec[k]) for k in ("nodes", "pods", "namespaces", "apps") if k in spec}
        except (ValueError, TypeError) as exc:
            return _json({"error": str(exc)}, 400)
        result = await bulk_load(cluster.api, cluster.name, **args)
        result.update(rss_bytes())
        return _json(result)
    elif action == "stats" and method == "GET":
        return _json(cluster.stats())
    return _json({"error": f"no such admin action: {method} {action}"}, 404)


class AdminApi:
    def __init__(self, server: SimServer):
        self.server = server

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["healthz"]:
            return web.Response(text="ok")
        if parts == ["clusters"]:
            return _json([c.describe() for c in self.server.clusters])
        if len(parts) == 3 and parts[0] == "clusters":
            cluster = self.server.cluster(parts[1])
            if cluster is None:
                return _json({"error": f"no cluster named {parts[1]}"}, 404)
            return await cluster_admin(cluster, request, parts[2])
        return _json({"error": "not found"}, 404)
