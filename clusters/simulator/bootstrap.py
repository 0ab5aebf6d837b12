"""What a fresh cluster contains: system namespaces, the ``kubernetes`` service, nodes, and
the CustomResourceDefinitions of the add-ons every simulated cluster has installed
(``crds/``: OpenKruise's CloneSet, vendored unchanged from openkruise/kruise v1.9.0
``config/crd/bases``, so a ``kubectl apply`` of Kruise's own manifest is a no-op update)."""
from __future__ import annotations

import json
from pathlib import Path

from .apiserver import CRD_BUCKET, ApiServer, now_iso
from .decoding import decode_yaml

CRD_DIR = Path(__file__).resolve().parent / "crds"
_crds_cache: list[str] = []


def addon_crds() -> list[dict]:
    """The vendored CRDs, parsed once per process (YAML is slow; each cluster gets its own copy)."""
    if not _crds_cache:
        _crds_cache.extend(json.dumps(decode_yaml(path.read_bytes())) for path in sorted(CRD_DIR.glob("*.yaml")))
    return [json.loads(text) for text in _crds_cache]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def make_node(name: str, index: int, *, cpu: str = "8", memory: str = "32Gi", pods: str = "110",
              zone: str | None = None) -> dict:
    """A Ready node, as a kubelet would register it. ``index`` picks its (unique) IP."""
    capacity = {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi"}
    now = now_iso()
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "node.kubernetes.io/instance-type": "sim.large"}
    if zone:
        labels["topology.kubernetes.io/zone"] = zone
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"podCIDR": f"10.{128 + index // 65536 % 128}.{index // 256 % 256}.0/24"},
        "status": {
            "capacity": capacity, "allocatable": dict(capacity),
            "conditions": [
                {"type": t, "status": "False", "reason": r, "message": m, "lastHeartbeatTime": now,
                 "lastTransitionTime": now}
                for t, r, m in (("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                                ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                                ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"))
            ] + [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                  "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "addresses": [{"type": "InternalIP", "address": f"172.16.{index // 256 % 256}.{index % 256}"},
                          {"type": "Hostname", "address": name}],
            "nodeInfo": {"architecture": "amd64", "bootID": f"boot-{index}", "containerRuntimeVersion": "containerd://1.7.22",
                         "kernelVersion": "6.1.0-sim", "kubeProxyVersion": "v1.32.0", "kubeletVersion": "v1.32.0",
                         "machineID": f"machine-{index}", "operatingSystem": "linux", "osImage": "Simulated Linux",
                         "systemUUID": f"00000000-0000-0000-0000-{index:012d}"},
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        },
    }


def bootstrap(api: ApiServer, cluster_name: str, nodes: int) -> None:
    namespaces = api.registry.lookup("", "v1", "namespaces")
    for name in SYSTEM_NAMESPACES:
        api.create(namespaces, "", {"metadata": {"name": name}})
    services = api.registry.lookup("", "v1", "services")
    api.create(services, "default", {
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "targetPort": 6443}]},
    })
    crd_kind = api.registry.by_bucket(CRD_BUCKET)
    for crd in addon_crds():
        api.create(crd_kind, "", crd)
    node_kind = api.registry.lookup("", "v1", "nodes")
    zones = ("zone-a", "zone-b", "zone-c")
    for i in range(nodes):
        api.create(node_kind, "", make_node(f"{cluster_name}-node-{i + 1}", i + 1, zone=zones[i % 3]))
