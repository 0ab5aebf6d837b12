"""Traffic simulator: the request generator counts requests lost to pods that were routed
to while not serving (and none when they were taken out of traffic first), the
Prometheus query API answers in Prometheus's format, and metric faults spoil one image."""
import time
import urllib.parse

from . import wait_for
from .traffic import (
    apis,
    call,
    deploy_app,
    fresh_namespace,
    get,
    query,
    ready_pods,
    set_image,
    trafficsim_fixture,  # noqa: F401 - registers the fixture
)


def _generator(server, name: str) -> dict:
    return get(server, f"/traffic/v1/generators/{name}")


def _start(server, name: str, target: str, rate: float = 400) -> None:
    status, body = call(server, "POST", "/traffic/v1/generators", {"name": name, "target": target, "rate": rate})
    assert status == 201, body


def _settle(server, lb: str, count: int) -> None:
    wait_for(lambda: sum(b["healthy"] for b in get(server, f"/lb/v1/loadbalancers/{lb}/backends")["backends"]) == count,
             message=f"{count} healthy backends")


def _restart_in_place(server, ns: str, pod: str, lb: str, count: int, image: str) -> None:
    """An in-place image change (not Ready for the ready delay), then everything healthy again."""
    set_image(server, "tr-a", ns, pod, image)
    wait_for(lambda: not all(p["serving"] for p in get(server, f"/traffic/v1/pods?namespace={ns}")["pods"]),
             interval=0.005, message="restart seen")
    wait_for(lambda: all(p["serving"] for p in get(server, f"/traffic/v1/pods?namespace={ns}")["pods"]),
             message="ready again")
    time.sleep(get(server, "/traffic/v1/settings")["lb_lag_seconds"] + 0.1)  # the LB catches up
    _settle(server, lb, count)


def test_lb_traffic_fails_on_a_pod_restarted_while_routed_to_and_not_once_it_was_drained(trafficsim):
    ns = fresh_namespace()
    deploy_app(trafficsim, "tr-a", ns, replicas=2)
    lb = f"{ns}.web"
    _settle(trafficsim, lb, 2)
    core, _ = apis(trafficsim, "tr-a")
    pod = ready_pods(core, ns, "app=web")[0].metadata.name
    _start(trafficsim, "x", f"lb:{lb}", rate=500)
    try:
        wait_for(lambda: _generator(trafficsim, "x")["ok"] > 50, message="traffic flowing")
        assert _generator(trafficsim, "x")["failed"] == 0

        # Not lossless: the LB keeps routing to the pod until its lag passes.
        _restart_in_place(trafficsim, ns, pod, lb, 2, "shop:v2")
        lossy = _generator(trafficsim, "x")
        assert lossy["failed"] > 0 and set(lossy["failures_by_reason"]) <= {"pod not ready", "container not ready"}
        assert lossy["sent"] == lossy["ok"] + lossy["failed"] + lossy["app_errors"]
        assert lossy["success_ratio"] == round(lossy["ok"] / lossy["sent"], 6) < 1
        assert lossy["running"] is True

        # Lossless: weight 0 first (at once), then the restart, then back in.
        status, reset = call(trafficsim, "POST", "/traffic/v1/generators/x/reset")
        assert status == 200 and reset["sent"] == reset["failed"] == 0
        assert call(trafficsim, "PUT", f"/lb/v1/loadbalancers/{lb}/backends/tr-a/{ns}/{pod}", {"weight": 0})[0] == 200
        _restart_in_place(trafficsim, ns, pod, lb, 2, "shop:v3")
        assert call(trafficsim, "PUT", f"/lb/v1/loadbalancers/{lb}/backends/tr-a/{ns}/{pod}", {"weight": 100})[0] == 200
        wait_for(lambda: _generator(trafficsim, "x")["sent"] > 300, message="more traffic")
        clean = _generator(trafficsim, "x")
        assert clean["failed"] == 0 and clean["ok"] == clean["sent"] and clean["success_ratio"] == 1.0, clean

        # A deleted pod: requests routed to it before the LB notices find it gone.
        call(trafficsim, "POST", "/traffic/v1/generators/x/reset")
        core.delete_namespaced_pod(pod, ns, grace_period_seconds=0)
        wait_for(lambda: _generator(trafficsim, "x")["failures_by_reason"].get("pod gone", 0) > 0, message="pod gone")
    finally:
        status, deleted = call(trafficsim, "DELETE", "/traffic/v1/generators/x")
        assert status == 200 and deleted["name"] == "x"
    assert call(trafficsim, "GET", "/traffic/v1/generators/x")[0] == 404


def test_registry_traffic_fails_while_heartbeats_lag_and_not_when_disabled_first(trafficsim):
    ns = fresh_namespace()
    deploy_app(trafficsim, "tr-a", ns, app="orders", replicas=2)
    service = f"orders.{ns}"
    wait_for(lambda: len(get(trafficsim, f"/registry/v1/services/{service}/instances")["instances"]) == 2
             if service in get(trafficsim, "/registry/v1/services")["services"] else False, message="instances")
    core, _ = apis(trafficsim, "tr-a")
    pod = ready_pods(core, ns, "app=web")[0].metadata.name
    instance = f"/registry/v1/services/{service}/instances/tr-a/{ns}/{pod}"
    _start(trafficsim, "r", f"registry:{service}", rate=500)
    try:
        set_image(trafficsim, "tr-a", ns, pod, "shop:v2")
        wait_for(lambda: _generator(trafficsim, "r")["failed"] > 0, message="failures")
        assert set(_generator(trafficsim, "r")["failures_by_reason"]) <= {"pod not ready", "container not ready"}
        wait_for(lambda: all(p["serving"] for p in get(trafficsim, f"/traffic/v1/pods?namespace={ns}")["pods"]),
                 message="ready again")

        call(trafficsim, "POST", "/traffic/v1/generators/r/reset")
        assert call(trafficsim, "PUT", instance, {"enabled": False})[0] == 200
        set_image(trafficsim, "tr-a", ns, pod, "shop:v3")
        wait_for(lambda: not all(p["serving"] for p in get(trafficsim, f"/traffic/v1/pods?namespace={ns}")["pods"]),
                 interval=0.005, message="restart seen")
        wait_for(lambda: all(p["serving"] for p in get(trafficsim, f"/traffic/v1/pods?namespace={ns}")["pods"]),
                 message="ready again")
        assert call(trafficsim, "PUT", instance, {"enabled": True})[0] == 200
        wait_for(lambda: _generator(trafficsim, "r")["sent"] > 300, message="traffic")
        clean = _generator(trafficsim, "r")
        assert clean["failed"] == 0 and clean["ok"] == clean["sent"], clean
    finally:
        call(trafficsim, "DELETE", "/traffic/v1/generators/r")


def test_generator_refuses_hostile_input(trafficsim):
    good = {"name": "g", "target": "lb:default.web", "rate": 10}
    for bad in ({**good, "rate": 0}, {**good, "rate": 5001}, {**good, "rate": "10"}, {**good, "rate": True},
                {**good, "rate": None}, {**good, "name": ""}, {**good, "name": "a b"}, {**good, "name": "x" * 101},
                {**good, "name": 5}, {**good, "target": "web"}, {**good, "target": "http:web"},
                {**good, "target": "lb:"}, {**good, "target": "lb:../x"}, {**good, "extra": 1}, {"name": "g"}):
        status, body = call(trafficsim, "POST", "/traffic/v1/generators", bad)
        assert status == 400 and body["error"], bad
    for raw in (b"[1]", b"nope", b'{"name": "g", "target": "lb:a.b", "rate": Infinity}', b"\xff\xfe"):
        assert call(trafficsim, "POST", "/traffic/v1/generators", raw=raw)[0] == 400, raw
    assert get(trafficsim, "/traffic/v1/generators") == {"generators": []}

    status, body = call(trafficsim, "POST", "/traffic/v1/generators", good)
    try:
        assert status == 201 and body["running"] is True and body["target"] == "lb:default.web"
        assert call(trafficsim, "POST", "/traffic/v1/generators", good)[0] == 409
        # No such LB: every request fails, and says why.
        wait_for(lambda: _generator(trafficsim, "g")["failed"] > 0, message="failures")
        assert set(_generator(trafficsim, "g")["failures_by_reason"]) == {"no healthy backend"}
    finally:
        call(trafficsim, "DELETE", "/traffic/v1/generators/g")
    for method, path in (("GET", "/traffic/v1/generators/g"), ("DELETE", "/traffic/v1/generators/g"),
                         ("POST", "/traffic/v1/generators/g/reset")):
        assert call(trafficsim, method, path)[0] == 404


def test_prometheus_series_per_pod_in_prometheus_format(trafficsim):
    ns = fresh_namespace()
    deploy_app(trafficsim, "tr-a", ns, replicas=2, image="shop:v1")
    deploy_app(trafficsim, "tr-b", ns, replicas=1, image="shop:v1")
    wait_for(lambda: len(get(trafficsim, f"/traffic/v1/pods?namespace={ns}")["pods"]) == 3, message="pods seen")
    core, _ = apis(trafficsim, "tr-a")
    names = sorted(p.metadata.name for p in ready_pods(core, ns, "app=web"))

    status, body = query(trafficsim, f'sim_http_error_ratio{{namespace="{ns}",cluster="tr-a"}}')
    assert status == 200 and body["status"] == "success" and body["data"]["resultType"] == "vector"
    result = body["data"]["result"]
    assert sorted(r["metric"]["pod"] for r in result) == names
    for series in result:
        assert series["metric"] == {"__name__": "sim_http_error_ratio", "cluster": "tr-a", "namespace": ns,
                                    "pod": series["metric"]["pod"], "image": "shop:v1", "container": "main"}
        stamp, value = series["value"]
        assert isinstance(stamp, float) and isinstance(value, str) and 0.001 * 0.9 <= float(value) <= 0.01 * 1.1
    for metric, low, high in (("sim_http_latency_seconds", 0.018, 0.088), ("sim_http_requests_per_second", 4.5, 55),
                              ("up", 1, 1)):
        values = [float(r["value"][1]) for r in query(trafficsim, f'{metric}{{namespace="{ns}"}}')[1]["data"]["result"]]
        assert len(values) == 3 and all(low <= v <= high for v in values), (metric, values)

    pods = "|".join(names)
    status, body = query(trafficsim, f'count by (cluster) (up{{namespace="{ns}"}})')
    assert {r["metric"]["cluster"]: r["value"][1] for r in body["data"]["result"]} == {"tr-a": "2", "tr-b": "1"}
    assert all("__name__" not in r["metric"] for r in body["data"]["result"])
    status, body = query(trafficsim, f'max(sim_http_error_ratio{{namespace="{ns}",pod=~"{pods}"}}) < 0.05')
    assert len(body["data"]["result"]) == 1 and body["data"]["result"][0]["metric"] == {}
    status, body = query(trafficsim, f'sum(up{{namespace="{ns}",pod!~"{pods}"}})')
    assert body["data"]["result"] == [{"metric": {}, "value": body["data"]["result"][0]["value"]}]
    assert body["data"]["result"][0]["value"][1] == "1"
    status, body = query(trafficsim, f'up{{namespace="{ns}",cluster!="tr-a"}} > 5')
    assert body["data"]["result"] == []
    status, body = query(trafficsim, "2")
    assert body["data"]["resultType"] == "scalar" and body["data"]["result"][1] == "2"

    # POST with a form body, and an explicit time.
    status, body = call(trafficsim, "POST", "/prometheus/api/v1/query",
                        raw=urllib.parse.urlencode({"query": f'avg(up{{namespace="{ns}"}})', "time": "1700000000"}).encode(),
                        content_type="application/x-www-form-urlencoded")
    assert status == 200 and body["data"]["result"][0]["value"] == [1700000000.0, "1"]
    status, body = query(trafficsim, 'up{namespace="x"}&time=2023-11-14T22:13:20Z')
    assert status == 400  # the & went into the query text, which is not PromQL

    for bad in ("", "rate(up[5m])", "up[5m]", "{}", 'up{pod=~"("}', "sum(up", "up + up", "topk(3, up)", "1 > 2",
                "up offset 5m", "{pod=}", "histogram_quantile(0.9, x)", "x" * 5000):
        status, body = query(trafficsim, bad)
        assert status == 400 and body["status"] == "error" and body["errorType"] == "bad_data", bad
        assert body["error"].startswith('invalid parameter "query"') or "too long" in body["error"], body
    status, body = call(trafficsim, "GET", "/prometheus/api/v1/query?query=up&time=yesterday")
    assert status == 400 and body["errorType"] == "bad_data" and 'invalid parameter "time"' in body["error"]


def test_metric_faults_spoil_one_images_series_and_its_requests(trafficsim):
    ns = fresh_namespace()
    deploy_app(trafficsim, "tr-a", ns, replicas=2, image="shop:v1")
    lb = f"{ns}.web"
    _settle(trafficsim, lb, 2)
    core, _ = apis(trafficsim, "tr-a")
    bad_pod = ready_pods(core, ns, "app=web")[0].metadata.name
    set_image(trafficsim, "tr-a", ns, bad_pod, "registry.local/shop:v2-broken")
    wait_for(lambda: all(p["serving"] for p in get(trafficsim, f"/traffic/v1/pods?namespace={ns}")["pods"])
             and any("v2-broken" in p["images"]["main"] for p in get(trafficsim, f"/traffic/v1/pods?namespace={ns}")["pods"]),
             message="new image running")
    time.sleep(get(trafficsim, "/traffic/v1/settings")["lb_lag_seconds"] + 0.1)  # the LB saw the restart, and the end
    _settle(trafficsim, lb, 2)

    for bad in ({}, {"image": ""}, {"image": "x"}, {"image": "x", "error_ratio": 2}, {"image": "x", "error_ratio": "0.5"},
                {"image": "x", "latency_seconds": -1}, {"image": 3, "error_ratio": 0.1},
                {"image": "x", "error_ratio": 0.1, "extra": 1}):
        assert call(trafficsim, "POST", "/faults/v1/metrics", bad)[0] == 400, bad
    status, body = call(trafficsim, "POST", "/faults/v1/metrics",
                        {"image": "shop:v2-broken", "error_ratio": 0.4, "latency_seconds": 1.5})
    assert status == 200 and body["faults"] == [{"image": "shop:v2-broken", "error_ratio": 0.4, "latency_seconds": 1.5}]
    try:
        by_pod = {r["metric"]["pod"]: float(r["value"][1])
                  for r in query(trafficsim, f'sim_http_error_ratio{{namespace="{ns}"}}')[1]["data"]["result"]}
        assert by_pod.pop(bad_pod) == 0.4 and all(v < 0.02 for v in by_pod.values())
        latency = {r["metric"]["image"]: float(r["value"][1])
                   for r in query(trafficsim, f'max by (image) (sim_http_latency_seconds{{namespace="{ns}"}})')[1]
                   ["data"]["result"]}
        assert latency["registry.local/shop:v2-broken"] == 1.5 and latency["shop:v1"] < 0.1

        _start(trafficsim, "f", f"lb:{lb}", rate=1000)
        wait_for(lambda: _generator(trafficsim, "f")["sent"] > 600, message="traffic")
        counts = _generator(trafficsim, "f")
        # Half the requests reach the faulty pod, 40 % of those are application errors.
        assert counts["failed"] == 0 and 0.1 < counts["app_errors"] / counts["sent"] < 0.3, counts

        assert call(trafficsim, "DELETE", "/faults/v1/metrics") == (200, {"faults": []})
        assert get(trafficsim, "/faults/v1/metrics") == {"faults": []}
        value = query(trafficsim, f'sim_http_error_ratio{{pod="{bad_pod}"}}')[1]["data"]["result"][0]["value"][1]
        assert float(value) < 0.02
    finally:
        call(trafficsim, "DELETE", "/faults/v1/metrics")
        call(trafficsim, "DELETE", "/traffic/v1/generators/f")
