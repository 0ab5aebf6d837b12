"""Bulk loading for the scale benchmark: many nodes and already-running pods, fast.

Nodes and namespaces go through the normal create path. Pods are written straight to
the store fully formed (bound, Running, Ready), skipping defaulting and admission, but
still through the store's indexes, listeners and watch fan-out, so controllers and
watchers see them like any other pod. History is not kept for them (a real cluster
would have compacted it long ago).
"""
from __future__ import annotations

import asyncio
import gc
import json
import time
import uuid

from .apiserver import now_iso
from .bootstrap import make_node
from .store import Store, dumps


def bench_pod(i: int, namespace: str, node: str, apps: int, created: str) -> dict:
    name = f"pod-{i:06d}"
    image = f"registry.local/app-{i % apps}:1.0.{i % 7}"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "creationTimestamp": created,
                     "labels": {"app": f"app-{i % apps}", "tier": ("web", "api", "worker")[i % 3], "bench": "true"}},
        "spec": {"nodeName": node, "restartPolicy": "Always", "schedulerName": "default-scheduler",
                 "containers": [{"name": "main", "image": image, "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                 "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
        "status": {"phase": "Running", "podIP": f"10.{128 + (i >> 16) % 128}.{i >> 8 & 255}.{i & 255}",
                   "hostIP": "172.16.0.1", "qosClass": "Burstable", "startTime": created,
                   "conditions": [{"type": t, "status": "True", "lastTransitionTime": created}
                                  for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                   "containerStatuses": [{"name": "main", "image": image, "imageID": "", "ready": True, "started": True,
                                          "restartCount": 0, "state": {"running": {"startedAt": created}}}]},
    }


async def bulk_load(api, cluster_name: str, *, nodes: int = 0, pods: int = 0, namespaces: int = 1,
                    apps: int = 100) -> dict:
    store: Store = api.store
    started = time.perf_counter()
    node_kind = api.registry.lookup("", "v1", "nodes")
    ns_kind = api.registry.lookup("", "v1", "namespaces")
    first_node = store.count("nodes") + 1
    node_names = []
    for i in range(nodes):
        name = f"{cluster_name}-bulk-{first_node + i}"
        api.create(node_kind, "", make_node(name, first_node + i, cpu="64", memory="256Gi", pods="250"))
        node_names.append(name)
        if i % 2000 == 1999:
            await asyncio.sleep(0)
    node_names = node_names or [n.obj["metadata"]["name"] for n in store.select("nodes")]
    ns_names = [f"bench-{n}" for n in range(namespaces)]
    for ns in ns_names:
        if store.get("namespaces", "", ns) is None:
            api.create(ns_kind, "", {"metadata": {"name": ns}})
    created = now_iso()
    for i in range(pods):
        pod = bench_pod(i, ns_names[i % len(ns_names)], node_names[i % len(node_names)] if node_names else "", apps,
                        created)
        # Through JSON, like a pod that arrived over the API, so memory figures are honest.
        store.put("pods", json.loads(dumps(pod)), record=False)
        if i % 5000 == 4999:
            await asyncio.sleep(0)  # keep serving requests while loading
    # Everything loaded lives as long as the cluster: move it out of the cyclic GC's
    # reach, or each full collection would walk millions of dicts (100 ms+ pauses).
    gc.collect()
    gc.freeze()
    return {"nodes": nodes, "pods": pods, "namespaces": namespaces, "seconds": round(time.perf_counter() - started, 3),
            "resourceVersion": store.rv}
