"""Controllers that make the simulated cluster behave: see each module's docstring."""
from __future__ import annotations

import asyncio

from ..apiserver import ApiServer
from .base import ControllerManager
from .clonesets import CloneSets
from .deployments import Deployments
from .endpoints import Endpoints
from .gc import GarbageCollector, Namespaces
from .kubelet import Kubelet
from .quota import Quotas
from .replicasets import ReplicaSets
from .statefulsets import StatefulSets


def build_controllers(api: ApiServer, loop: asyncio.AbstractEventLoop, ready_delay: float) -> ControllerManager:
    manager = ControllerManager(api, loop, ready_delay)
    # Drain order matters a little: pods are placed before their ReplicaSet counts them,
    # and ReplicaSets update before their Deployment reads them.
    for controller in (Quotas, Kubelet, ReplicaSets, Deployments, StatefulSets, CloneSets, Endpoints,
                       GarbageCollector, Namespaces):
        manager.add(controller(manager))
    return manager
