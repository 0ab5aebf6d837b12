"""Where a federated resource goes, and how many replicas each cluster runs. Pure.

Candidates = clusters bound to the environment (a cell binding = all its
clusters) ∩ the placement's selection ∩ schedulable ones (not cordoned, cell and
zone not failed). A failed cell's clusters are therefore simply not candidates,
and a Divided resource's replicas are spread over the clusters that remain.

Placement shape:
  {"clusters": [...], "cells": [...], "zones": [...], "regions": [...],   # union; none = all bound
   "labelSelector": {"matchLabels": {...}, "matchExpressions": [...]},   # over topology labels
   "replicaScheduling": {"type": "Duplicated"} |
       {"type": "Divided", "totalReplicas": N, "weights": {cluster-or-cell: w},
        "min": {cluster-or-cell: n}, "max": {cluster-or-cell: n}}}
"""
from dataclasses import dataclass, field
from fractions import Fraction

from . import labels as label_selectors

SELECTION_KEYS = ("clusters", "cells", "zones", "regions")


@dataclass(frozen=True)
class ClusterInfo:
    slug: str
    cell: str
    zone: str
    region: str
    labels: dict = field(default_factory=dict, hash=False, compare=False)
    weight: int = 1
    schedulable: bool = True
    bound: bool = True
    pk: int | None = None


@dataclass
class Plan:
    # cluster slug -> planned replicas (None for kinds without replicas)
    targets: dict[str, int | None]
    unplaced: int = 0


def selected(placement: dict, cluster: ClusterInfo) -> bool:
    """Does the placement's selection (lists and label selector) pick this cluster?"""
    lists = {key: placement.get(key) for key in SELECTION_KEYS if placement.get(key)}
    if lists:
        attrs = {"clusters": cluster.slug, "cells": cluster.cell, "zones": cluster.zone, "regions": cluster.region}
        if not any(attrs[key] in values for key, values in lists.items()):
            return False
    return label_selectors.matches(placement.get("labelSelector"), cluster.labels)


def candidates(placement: dict, clusters: list[ClusterInfo]) -> list[ClusterInfo]:
    return sorted((c for c in clusters if c.bound and c.schedulable and selected(placement, c)),
                  key=lambda c: c.slug)


def _per_cluster(values: dict, cluster: ClusterInfo):
    """A cluster's own entry wins over its cell's."""
    if cluster.slug in values:
        return values[cluster.slug]
    return values.get(cluster.cell)


def cluster_weights(weights: dict | None, clusters: list[ClusterInfo]) -> dict[str, Fraction]:
    """Weight per cluster. A cell's weight is its share, split among its clusters not
    named on their own by Cluster.weight. Without weights: Cluster.weight. When every
    candidate ends up at zero (e.g. the weighted cells failed), the remaining
    clusters share equally rather than leave replicas unplaced."""
    if not weights:
        result = {c.slug: Fraction(c.weight) for c in clusters}
    else:
        result = {}
        by_cell: dict[str, list[ClusterInfo]] = {}
        for c in clusters:
            if c.slug in weights:
                result[c.slug] = Fraction(weights[c.slug])
            elif c.cell in weights:
                by_cell.setdefault(c.cell, []).append(c)
            else:
                result[c.slug] = Fraction(0)
        for cell, members in by_cell.items():
            total = sum(c.weight for c in members)
            for c in members:
                share = Fraction(c.weight, total) if total else Fraction(1, len(members))
                result[c.slug] = Fraction(weights[cell]) * share
    if clusters and not any(result.values()):
        result = {c.slug: Fraction(1) for c in clusters}
    return result


def _largest_remainder(total: int, weights: dict[str, Fraction]) -> dict[str, int]:
    """Split `total` in proportion to weights; leftovers go to the largest fractional
    parts, ties to the larger weight, then the smaller slug (deterministic)."""
    weight_sum = sum(weights.values())
    if total <= 0 or not weight_sum:
        return {slug: 0 for slug in weights}
    exact = {slug: total * w / weight_sum for slug, w in weights.items()}
    shares = {slug: int(q) for slug, q in exact.items()}
    left = total - sum(shares.values())
    order = sorted(weights, key=lambda s: (-(exact[s] - shares[s]), -weights[s], s))
    for slug in order[:left]:
        shares[slug] += 1
    return shares


def divide(total: int, clusters: list[ClusterInfo], *, weights: dict | None = None,
           minimum: dict | None = None, maximum: dict | None = None) -> tuple[dict[str, int], int]:
    """Replicas per cluster, proportional to weight within min/max; returns (shares,
    replicas that fit nowhere). A cluster whose proportional share falls below its
    min (or above its max) is fixed there and the rest is shared again."""
    clusters = sorted(clusters, key=lambda c: c.slug)
    if not clusters:
        return {}, total
    w = cluster_weights(weights, clusters)
    lows = {c.slug: int(_per_cluster(minimum or {}, c) or 0) for c in clusters}
    highs = {c.slug: _per_cluster(maximum or {}, c) for c in clusters}
    highs = {slug: (None if high is None else max(int(high), lows[slug])) for slug, high in highs.items()}
    if sum(lows.values()) >= total:  # the minimums take everything: honour them in slug order
        shares, left = {}, total
        for slug in w:
            shares[slug] = min(lows[slug], left)
            left -= shares[slug]
        return shares, 0
    fixed: dict[str, int] = {}
    while True:
        free = [slug for slug in w if slug not in fixed]
        remaining = total - sum(fixed.values())
        if not free:
            return fixed, remaining
        active = {slug: w[slug] for slug in free}
        if not any(active.values()):
            active = {slug: Fraction(1) for slug in free}
        split = _largest_remainder(remaining, active)
        below = [slug for slug in free if split[slug] < lows[slug]]
        above = [slug for slug in free if highs[slug] is not None and split[slug] > highs[slug]]
        if not below and not above:
            return {**fixed, **split}, 0
        for slug in below or above:
            fixed[slug] = lows[slug] if below else highs[slug]


def plan(placement: dict, clusters: list[ClusterInfo], *, template_replicas: int | None,
         has_replicas: bool) -> Plan:
    chosen = candidates(placement or {}, clusters)
    scheduling = (placement or {}).get("replicaScheduling") or {"type": "Duplicated"}
    if not has_replicas or scheduling.get("type", "Duplicated") == "Duplicated":
        replicas = template_replicas if has_replicas else None
        return Plan(targets={c.slug: replicas for c in chosen})
    total = int(scheduling.get("totalReplicas", template_replicas or 0))
    shares, unplaced = divide(total, chosen, weights=scheduling.get("weights"),
                              minimum=scheduling.get("min"), maximum=scheduling.get("max"))
    # A cluster with no share holds no object; a resource scaled to zero keeps its objects everywhere.
    keep = {slug for slug, n in shares.items() if n > 0} if total > 0 else set(shares)
    return Plan(targets={slug: shares[slug] for slug in sorted(shares) if slug in keep}, unplaced=unplaced)
