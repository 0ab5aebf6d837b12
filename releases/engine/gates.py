"""Health gates run once a step's pods are on the target and ready (CONTRACTS C options.gates):
- min_ready_ratio: ready pods / pods of the step's workloads, at least this;
- no_restarts: no pod of the step restarted since it became ready on the target;
- metrics: Prometheus instant queries (GET <prometheus_url>/api/v1/query) with {namespace} and
  {pods} (a regex alternation of the step's updated pods) substituted, compared with a threshold.
  A query answering no series passes with "no data" (a gate on a metric the pods do not export yet
  must not block every release); an error from Prometheus fails the gate with its message.
Each result: {"gate", "value", "threshold", "op", "ok", "detail"}.
"""
import operator

import requests
from django.conf import settings
from django.utils.translation import gettext as _

from . import workload

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
       "!=": operator.ne}
TIMEOUT = (2.0, 10.0)


def prometheus_url(gates: dict) -> str:
    url = (gates.get("prometheus_url") or getattr(settings, "RELEASE_PROMETHEUS_URL", "") or "").rstrip("/")
    if not url and getattr(settings, "PAAS_TRAFFIC_SIM_URL", ""):
        url = settings.PAAS_TRAFFIC_SIM_URL.rstrip("/") + "/prometheus"
    return url


def ready_ratio(gates: dict, *, ready: int, total: int) -> dict:
    threshold = float(gates.get("min_ready_ratio", 1.0))
    value = round(ready / total, 4) if total else 1.0
    return {"gate": "min_ready_ratio", "value": value, "threshold": threshold, "op": ">=", "ok": value >= threshold,
            "detail": f"{ready} of {total} pods ready"}


def restarts(restarted: list[tuple[str, str, int, int]]) -> dict:
    """restarted: (cluster, pod, before, now) for each pod that restarted."""
    detail = ", ".join(f"{pod} in {cluster} restarted ({before} → {now})" for cluster, pod, before, now in restarted[:5])
    return {"gate": "no_restarts", "value": len(restarted), "threshold": 0, "op": "<=", "ok": not restarted,
            "detail": detail or "no pod restarted"}


def _vector_value(payload: dict) -> float | None:
    data = payload.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return float(result[1])
    if kind == "vector" and result:
        return max(float(item["value"][1]) for item in result)
    return None


def metric(gates: dict, item: dict, *, namespace: str, pods: list[str]) -> dict:
    name, op, threshold = item.get("name") or item.get("query", "")[:40], item.get("op", "<"), float(item["threshold"])
    out = {"gate": name, "value": None, "threshold": threshold, "op": op, "ok": False, "detail": ""}
    url = prometheus_url(gates)
    if not url:
        out["detail"] = "no Prometheus URL configured"
        return out
    # Pod names are DNS labels: nothing to escape (a backslash would also need PromQL string escaping).
    alternation = "|".join(pods) or "^$"
    query = item["query"].replace("{namespace}", namespace).replace("{pods}", alternation)
    try:
        response = requests.get(f"{url}/api/v1/query", params={"query": query}, timeout=TIMEOUT)
        payload = response.json()
    except (requests.RequestException, ValueError) as exc:
        out["detail"] = f"Prometheus at {url} did not answer ({exc.__class__.__name__})"
        return out
    if response.status_code >= 400 or payload.get("status") != "success":
        out["detail"] = f"Prometheus refused the query: {str(payload.get('error', response.status_code))[:200]}"
        return out
    value = _vector_value(payload)
    if value is None:
        out.update(ok=True, detail="no data")
        return out
    compare = OPS.get(op, operator.lt)
    out.update(value=round(value, 6), ok=bool(compare(value, threshold)),
               detail=f"{name} = {value:g} (must be {op} {threshold:g})")
    return out


def evaluate(release, drivers: list, options: dict, *, timed_out: bool) -> list[dict]:
    """The step's gate results, once its drivers are done (or the step timed out)."""
    if timed_out:
        ready = sum(d.last.ready if d.last else 0 for d in drivers)
        desired = sum(d.spec.desired for d in drivers)
        waiting = next((d.last.waiting for d in drivers if d.last and not d.last.done), "")
        return [{"gate": "min_ready_ratio", "value": round(ready / desired, 4) if desired else 0,
                 "threshold": float(options.get("min_ready_ratio", 1.0)), "op": ">=", "ok": False,
                 "detail": _("not ready after %(s)s s: %(w)s") % {"s": options.get("timeout_seconds", 300),
                                                                  "w": waiting}}]
    ready = sum(d.last.ready_total if d.last else 0 for d in drivers)
    total = sum(d.spec.total for d in drivers)
    results = [ready_ratio(options, ready=ready, total=total)]
    if options.get("no_restarts", True):
        restarted = [(d.spec.cluster.slug, *r) for d in drivers for r in d.restarted()]
        results.append(restarts(restarted))
    pods = sorted({name for d in drivers for name, st in d.states.items() if st[1] == release.target.number})
    for item in options.get("metrics") or []:
        results.append(metric(options, item, namespace=workload.namespace(release), pods=pods))
    return results
