"""The release page's state as one JSON document (rendered with json_script): the snapshot the
browser starts from, which static/releases/release-live.js then moves forward by applying the
release's numbered events (CONTRACTS D) in order, exactly once.

Rows (steps, targets, pods) are upserted by events, so reading them a little after `last_seq`
is harmless (re-applying an event to a row that already has it changes nothing). Series that
only exist as events (gate values, traffic samples, the event log) are read up to `last_seq`
exactly, so an event is never counted twice."""
from django.urls import reverse

from .models import PodProgress, Release, ReleaseEvent, ReleaseStep

EVENTS_ON_PAGE = 200
UNLOGGED = "traffic.sample"
SERIES_POINTS = 300


def _targets(step: ReleaseStep) -> list[dict]:
    return [{"cluster": t.cluster_id, "cluster_slug": t.cluster.slug, "component": t.component,
             "workload_kind": t.workload_kind, "in_place": t.in_place, "desired": t.desired, "total": t.total,
             "updated": t.updated, "ready": t.ready, "state": t.state, "error": t.error}
            for t in step.targets.all()]


def _steps(release: Release) -> list[dict]:
    steps = release.steps.prefetch_related("targets__cluster").order_by("index")
    return [{"index": s.index, "kind": s.kind, "name": s.name, "group": s.group, "state": s.state,
             "manual": s.manual, "wait_seconds": s.wait_seconds, "estimate_seconds": s.estimate_seconds,
             "error": s.error, "targets": _targets(s)} for s in steps]


def _clusters(release: Release) -> list[dict]:
    """The plan's clusters in topology order (the grid's columns, grouped by cell)."""
    return [{"id": c.get("id"), "slug": c.get("slug", ""), "cell": c.get("cell") or "", "zone": c.get("zone") or "",
             "region": c.get("region") or "", "pods": c.get("pods") or {}}
            for c in (release.plan or {}).get("clusters", []) if isinstance(c, dict)]


def _pods(release: Release, cells: dict) -> list[dict]:
    rows = PodProgress.objects.filter(release=release).select_related("cluster").order_by("cluster__slug", "name")
    return [{"cluster": p.cluster_id, "cluster_slug": p.cluster.slug, "cell": cells.get(p.cluster_id, ""),
             "component": p.component, "pod": p.name, "state": p.state, "revision": p.revision,
             "restarts": p.restarts, "reason": p.reason} for p in rows]


def _series(release: Release, last_seq: int) -> tuple[dict, list]:
    gates: dict[str, dict] = {}
    traffic: list = []
    rows = (ReleaseEvent.objects.filter(release=release, seq__lte=last_seq, kind__in=("gate.result", "traffic.sample"))
            .order_by("-seq").values("seq", "kind", "data")[: SERIES_POINTS * 4])
    for row in reversed(list(rows)):
        data = row["data"] or {}
        if row["kind"] == "gate.result":
            apply_gate(gates, row["seq"], data)
        else:
            traffic.append(traffic_point(row["seq"], data))
    return gates, traffic[-SERIES_POINTS:]


def apply_gate(gates: dict, seq: int, data: dict) -> None:
    """Same as release-live.js applyGate: one series per gate name."""
    name = str(data.get("gate", ""))
    series = gates.setdefault(name, {"op": data.get("op"), "threshold": data.get("threshold"), "points": []})
    series["op"], series["threshold"] = data.get("op"), data.get("threshold")
    series["points"].append({"seq": seq, "step": data.get("step"), "value": data.get("value"),
                             "ok": bool(data.get("ok")), "detail": data.get("detail") or ""})
    del series["points"][:-SERIES_POINTS]


def traffic_point(seq: int, data: dict) -> dict:
    return {"seq": seq, "sent": data.get("sent"), "ok": data.get("ok"), "failed": data.get("failed"),
            "success_ratio": data.get("success_ratio")}


def release_state(release: Release) -> dict:
    release.refresh_from_db(fields=["state", "current_step", "reason", "last_seq", "pause_requested",
                                    "abort_requested", "rollback_requested"])
    last_seq = release.last_seq
    clusters = _clusters(release)
    cells = {c["id"]: c["cell"] for c in clusters}
    gates, traffic = _series(release, last_seq)
    # The log leaves out traffic samples (charted under Requests; one every ~2 s would bury the rest).
    events = [e.as_dict() for e in ReleaseEvent.objects.filter(release=release, seq__lte=last_seq)
              .exclude(kind=UNLOGGED).order_by("-seq")[:EVENTS_ON_PAGE]]
    return {
        "id": release.pk, "number": release.number, "state": release.state, "reason": release.reason,
        "baseline": release.baseline.number, "target": release.target.number,
        "current_step": release.current_step, "last_seq": last_seq,
        "flags": {"pause": release.pause_requested, "abort": release.abort_requested,
                  "rollback": release.rollback_requested},
        "steps": _steps(release), "clusters": clusters, "pods": _pods(release, cells),
        "gates": gates, "traffic": traffic, "events": list(reversed(events)),
        "urls": {"events": reverse("releases:events", args=[release.pk]),
                 "logs": reverse("releases:logs", args=[release.pk])},
        "stream": f"release.{release.pk}",
    }
