"""What the cluster registry tells the federation engine.

The registry (clusters.services) calls these after a change that can move
workloads: a cluster cordoned or registered, a cell or zone marked failed, an
environment binding changed. The federation engine re-plans placements and
marks the affected per-cluster rows dirty in the caller's transaction.
"""


def topology_changed(*, actor, reason: str) -> None:
    """Re-plan every federated resource whose placement may be affected."""
    from . import scheduling

    scheduling.replan_all(actor=actor, reason=reason)


def cluster_switch_changed(*, actor, cluster=None) -> None:
    """A per-cluster or the global stop switch was turned off: converge again."""
    from . import scheduling

    scheduling.resume_propagation(actor=actor, cluster=cluster)
