"""A release's plan: which pods of which workload in which cluster move to the target revision
in which step, and how long each step should take.

Shape (Release.plan; ReleaseStep/StepTarget rows mirror `steps` when the release is created):
  {"version": 1, "in_place": bool,
   "workloads": [{"component", "kind": "CloneSet"|"Deployment", "name", "resource_id", "in_place"}],
   "clusters": [{"id", "slug", "cell", "zone", "region", "pods": {"<component>": n}}],
   "steps": [{"index", "kind": "beta"|"batch", "name", "group", "manual", "wait_seconds", "estimate_seconds",
              "targets": [{"cluster": <id>, "component", "workload_kind", "workload_name", "in_place",
                           "desired", "total"}]}],
   "estimate_seconds": float}
`desired` is cumulative: the pods of that workload in that cluster on the target revision once the
step is done (the executor sets the CloneSet's partition to total - desired). A step lists only
the workloads and clusters it changes.

How it is built (pure, `build()`; `plan_for()` gathers the inputs from the database):
- Clusters: those of the instance's placement running at least one pod of the target revision
  (applications/placement.py pods_per_cluster over the environment's topology), ordered
  region -> zone -> cell -> cluster, by slug.
- Beta (beta.pods > 0): that many pods of each CloneSet in one cell, the chosen one or the first
  in order, filling its clusters in order; a Deployment cannot update part of a cluster, so its
  beta is the whole first cluster of that cell.
- Groups follow `grouping` (cell by default; zone, region or cluster). A step never spans two
  zones: a region is released zone by zone (its steps are named "region r · zone z").
- Batches are cumulative per group and per workload: "50%" = half the group's pods on the target
  (rounded up), 3 = three pods; the beta's pods count. Each batch adds at least one pod, a batch
  that would add none is left out, and the last ends with every pod (pod counts below the group's
  size get a final batch for the rest). Within a group a CloneSet's pods are spread over its
  clusters in proportion to their size (each added pod goes where the share is most behind, so a
  cluster's count never goes down); a Deployment moves a whole cluster at a time, in order.
- In place: a CloneSet whose pod template differs between the two revisions only in container
  images and pod labels/annotations (OpenKruise's InPlaceIfPossible rule) is updated in place;
  anything else (a Deployment, a new component, another template change) recreates pods.
- Confirmation: with confirm "manual" every step after the first waits for a person; with "auto"
  it starts `wait_seconds` after the one before succeeded.
- Estimates (releases/plan_estimate.py, independent of the simulator): a step's pods move together,
  so a step lasts wait_seconds + its slowest pod x waves + the gates, where a pod takes
  drain + warm-up (lossless only) + ready (POD_READY_SECONDS + readiness initialDelaySeconds,
  + POD_START_SECONDS when recreated), a CloneSet batch is one wave and a Deployment cluster rolls
  in about four (its 25% surge/unavailable); manual confirmations are not counted.
"""
from dataclasses import dataclass, field
from fractions import Fraction
from math import ceil

from django.utils.translation import gettext as _

from paas.errors import DomainError

from . import plan_estimate
from .options import parse_batch

PLAN_VERSION = 1
CLONESET, DEPLOYMENT = "CloneSet", "Deployment"


@dataclass(frozen=True)
class ClusterRow:
    id: int
    slug: str
    cell: str
    zone: str
    region: str

    @property
    def order(self) -> tuple:
        return self.region, self.zone, self.cell, self.slug


@dataclass
class Workload:
    component: str
    kind: str  # CLONESET | DEPLOYMENT
    name: str
    resource_id: int | None
    in_place: bool
    pods: dict[str, int] = field(default_factory=dict)  # cluster slug -> pods on the target revision
    startup_seconds: float = 0.0  # readiness probe's initial delay (estimates)


def _fail(path: str, problem: str):
    raise DomainError(f"{path}: {problem}", field=path, code="invalid_plan")


# --- grouping ----------------------------------------------------------------------------------

def _groups(clusters: list[ClusterRow], grouping: str) -> list[tuple[str, str, list[ClusterRow]]]:
    """[(group label, step name prefix, clusters)] in topology order; never two zones in one."""
    groups: dict[tuple, tuple[str, str, list]] = {}
    for c in clusters:
        if grouping == "cluster":
            key, label, prefix = c.order, f"cluster {c.slug}", f"cluster {c.slug}"
        elif grouping == "zone":
            key, label, prefix = (c.region, c.zone), f"zone {c.zone}", f"zone {c.zone}"
        elif grouping == "region":
            key, label, prefix = (c.region, c.zone), f"region {c.region}", f"region {c.region} · zone {c.zone}"
        else:
            key, label, prefix = (c.region, c.zone, c.cell), f"cell {c.cell}", f"cell {c.cell}"
        groups.setdefault(key, (label, prefix, []))[2].append(c)
    return [groups[key] for key in sorted(groups)]


def _cumulative(batches: list, total: int, start: int) -> list[int]:
    """Cumulative pod counts per batch for a group of `total` pods of which `start` are done
    (same length as the batches, plus one when counts stop short of the total)."""
    wanted = []
    for item in batches:
        kind, number = parse_batch(item)
        wanted.append(ceil(Fraction(number * total, 100)) if kind == "percent" else min(number, total))
    if wanted and wanted[-1] < total:
        wanted.append(total)
    out, previous = [], start
    for count in wanted:
        count = min(total, max(count, previous + 1)) if previous < total else total
        out.append(count)
        previous = count
    return out


def _spread(current: dict[str, int], totals: dict[str, int], order: list[str], count: int) -> dict[str, int]:
    """Raise `current` (slug -> pods done) to `count` pods over the clusters in proportion to
    their totals, never lowering a cluster: each added pod goes where the share is most behind."""
    grand = sum(totals.values())
    result = dict(current)
    for slug in order:  # the whole share at once where it is behind by more than a pod
        floor_share = count * totals[slug] // grand
        result[slug] = max(result[slug], min(totals[slug], floor_share))
    while sum(result.values()) < count:
        open_ = [s for s in order if result[s] < totals[s]]
        best = max(open_, key=lambda s: (Fraction(count * totals[s], grand) - result[s], -order.index(s)))
        result[best] += 1
    return result


def _whole_clusters(current: dict[str, int], totals: dict[str, int], order: list[str], count: int) -> dict[str, int]:
    """A Deployment: whole clusters, done ones first then in order, until `count` pods are covered."""
    result = dict(current)
    for slug in order:
        if sum(result.values()) >= count:
            break
        result[slug] = totals[slug]
    return result


# --- building ----------------------------------------------------------------------------------

def _target(cluster: ClusterRow, workload: Workload, desired: int, before: int) -> dict:
    return {"cluster": cluster.id, "component": workload.component, "workload_kind": workload.kind,
            "workload_name": workload.name, "in_place": workload.in_place, "desired": desired,
            "total": workload.pods[cluster.slug], "before": before}


def _beta(options: dict, clusters: list[ClusterRow], workloads: list[Workload], done: dict) -> dict | None:
    beta = options["beta"]
    if not beta["pods"]:
        return None
    cells = [c.cell for c in clusters]
    cell = beta["cell"] or cells[0]
    if cell not in cells:
        _fail("options.beta.cell", _("cell %(cell)s runs no pod of this instance; choose one of: %(cells)s")
              % {"cell": cell, "cells": ", ".join(dict.fromkeys(cells))})
    targets = []
    for w in workloads:
        members = [c for c in clusters if c.cell == cell and w.pods.get(c.slug)]
        left = beta["pods"]
        for c in members:
            if left <= 0:
                break
            total = w.pods[c.slug]
            take = total if w.kind == DEPLOYMENT else min(left, total)
            done[(c.slug, w.component)] = take
            targets.append(_target(c, w, take, 0))
            left -= take
    if not targets:
        return None
    pods = sum(t["desired"] for t in targets)
    return {"kind": "beta", "group": f"cell {cell}", "targets": targets,
            "name": _("Beta: %(n)s pod(s) in cell %(cell)s") % {"n": pods, "cell": cell}}


def _group_steps(label: str, prefix: str, members: list[ClusterRow], workloads: list[Workload], options: dict,
                 done: dict) -> list[dict]:
    by_batch: dict[int, list[dict]] = {}
    for w in workloads:
        in_group = [c for c in members if w.pods.get(c.slug)]
        if not in_group:
            continue
        order = [c.slug for c in in_group]
        totals = {c.slug: w.pods[c.slug] for c in in_group}
        current = {c.slug: done.get((c.slug, w.component), 0) for c in in_group}
        move = _whole_clusters if w.kind == DEPLOYMENT else _spread
        for b, count in enumerate(_cumulative(options["batches"], sum(totals.values()), sum(current.values()))):
            after = move(current, totals, order, count)
            for c in in_group:
                if after[c.slug] > current[c.slug]:
                    by_batch.setdefault(b, []).append(_target(c, w, after[c.slug], current[c.slug]))
            current = after
        for slug, value in current.items():
            done[(slug, w.component)] = value
    batches = [by_batch[b] for b in sorted(by_batch)]
    return [{"kind": "batch", "group": label, "targets": targets,
             "name": _("%(group)s · batch %(i)s/%(n)s") % {"group": prefix, "i": i + 1, "n": len(batches)}}
            for i, targets in enumerate(batches)]


def build(workloads: list[Workload], clusters: list[ClusterRow], options: dict) -> dict:
    """The plan for cleaned `options` (releases/options.py) over these workloads and clusters."""
    order = sorted((c for c in clusters if any(w.pods.get(c.slug) for w in workloads)), key=lambda c: c.order)
    if not order:
        _fail("target", _("the target revision runs no pod in this instance's clusters"))
    done: dict[tuple[str, str], int] = {}
    steps = []
    beta = _beta(options, order, workloads, done)
    if beta:
        steps.append(beta)
    for label, prefix, members in _groups(order, options["grouping"]):
        steps.extend(_group_steps(label, prefix, members, workloads, options, done))
    startup = {w.component: w.startup_seconds for w in workloads}
    auto = options["confirm"] == "auto"
    for index, step in enumerate(steps):
        step["index"] = index
        step["manual"] = index > 0 and not auto
        step["wait_seconds"] = options["wait_seconds"] if index > 0 and auto else 0
        step["estimate_seconds"] = plan_estimate.step_seconds(step, startup, options)
        for target in step["targets"]:
            target.pop("before")
    ordered_keys = ("index", "kind", "name", "group", "manual", "wait_seconds", "estimate_seconds", "targets")
    steps = [{key: step[key] for key in ordered_keys} for step in steps]
    return {
        "version": PLAN_VERSION,
        "in_place": all(w.in_place for w in workloads),
        "workloads": [{"component": w.component, "kind": w.kind, "name": w.name, "resource_id": w.resource_id,
                       "in_place": w.in_place} for w in workloads],
        "clusters": [{"id": c.id, "slug": c.slug, "cell": c.cell, "zone": c.zone, "region": c.region,
                      "pods": {w.component: w.pods[c.slug] for w in workloads if w.pods.get(c.slug)}}
                     for c in order],
        "steps": steps,
        "estimate_seconds": round(sum(s["estimate_seconds"] for s in steps), 1),
    }


def plan_for(instance, baseline, target, options: dict, topology=None) -> dict:
    """The plan of moving `instance` from `baseline` to `target` with cleaned `options`."""
    from .plan_inputs import clusters_of, workloads_of

    topology = topology or _topology(instance)
    workloads = workloads_of(instance, baseline, target, topology)
    return build(workloads, clusters_of(topology), options)


def _topology(instance):
    from clusters.federation import scheduling

    return scheduling.topology_for(instance.environment)
