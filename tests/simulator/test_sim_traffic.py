"""Traffic simulator: service registry, load balancers and DNS follow the pods of every
cluster, with their lags, and refuse hostile input with a 4xx JSON error."""
import time

from . import wait_for
from .traffic import (
    apis,
    call,
    deploy_app,
    fresh_namespace,
    get,
    ready_pods,
    set_image,
    trafficsim_fixture,  # noqa: F401 - registers the fixture
)


def _instances(server, service: str) -> dict:
    status, body = call(server, "GET", f"/registry/v1/services/{service}/instances")
    return {i["id"]: i for i in body["instances"]} if status == 200 else {}


def _backends(server, lb: str) -> dict:
    status, body = call(server, "GET", f"/lb/v1/loadbalancers/{lb}/backends")
    return {b["id"]: b for b in body["backends"]} if status == 200 else {}


def test_ready_pods_of_all_clusters_register_under_app_and_namespace(trafficsim):
    ns = fresh_namespace()
    deploy_app(trafficsim, "tr-a", ns, app="shop", replicas=2)
    deploy_app(trafficsim, "tr-b", ns, app="shop", replicas=1)
    service = f"shop.{ns}"
    instances = wait_for(lambda: len(_instances(trafficsim, service)) == 3 and _instances(trafficsim, service),
                         message="three instances")
    assert service in get(trafficsim, "/registry/v1/services")["services"]
    core, _ = apis(trafficsim, "tr-a")
    pods = {p.metadata.name: p for p in ready_pods(core, ns, "app=web")}
    for name, pod in pods.items():
        instance = instances[f"tr-a/{ns}/{name}"]
        assert instance | {"enabled": True, "healthy": True} == instance
        assert (instance["cluster"], instance["namespace"], instance["pod"]) == ("tr-a", ns, name)
        assert (instance["ip"], instance["port"]) == (pod.status.pod_ip, 8080)
    assert sum(1 for i in instances.values() if i["cluster"] == "tr-b") == 1

    # The operator's switch: at once, and only for that instance.
    target = next(iter(instances))
    status, body = call(trafficsim, "PUT", f"/registry/v1/services/{service}/instances/{target}", {"enabled": False})
    assert status == 200 and body["enabled"] is False and body["id"] == target
    assert [i["id"] for i in _instances(trafficsim, service).values() if not i["enabled"]] == [target]


def test_registry_refuses_hostile_input(trafficsim):
    ns = fresh_namespace()
    deploy_app(trafficsim, "tr-a", ns, app="cart", replicas=1)
    service = f"cart.{ns}"
    instance = wait_for(lambda: next(iter(_instances(trafficsim, service)), None), message="an instance")
    base = f"/registry/v1/services/{service}/instances/{instance}"
    for body in ({"enabled": "no"}, {"enabled": 1}, {}, {"enabled": True, "weight": 3}, [True], None):
        status, answer = call(trafficsim, "PUT", base, raw=b"null" if body is None else None,
                              body=body if body is not None else None)
        assert status == 400 and answer["error"], body
    assert call(trafficsim, "PUT", base, raw=b"{not json")[0] == 400
    assert call(trafficsim, "PUT", base, raw=b'{"enabled": NaN}')[0] == 400
    assert call(trafficsim, "PUT", f"/registry/v1/services/{service}/instances/tr-a/{ns}/nope",
                {"enabled": False})[0] == 404
    assert call(trafficsim, "PUT", f"/registry/v1/services/none.{ns}/instances/{instance}", {"enabled": False})[0] == 404
    assert call(trafficsim, "GET", "/registry/v1/services/none.none/instances")[0] == 404
    assert call(trafficsim, "POST", base, {"enabled": False})[0] == 405
    assert call(trafficsim, "PUT", base, raw=b'{"enabled": false, "x": "' + b"a" * 70_000 + b'"}')[0] == 413
    assert all(i["enabled"] for i in _instances(trafficsim, service).values())  # nothing above changed it


def test_registry_health_trails_readiness_by_the_heartbeat_and_drops_gone_pods(trafficsim):
    ns = fresh_namespace()
    deploy_app(trafficsim, "tr-a", ns, app="pay", replicas=2)
    service = f"pay.{ns}"
    wait_for(lambda: len(_instances(trafficsim, service)) == 2, message="two instances")
    heartbeat = get(trafficsim, "/traffic/v1/settings")["registry_heartbeat_seconds"]
    core, _ = apis(trafficsim, "tr-a")
    pod = ready_pods(core, ns, "app=web")[0].metadata.name
    instance = f"tr-a/{ns}/{pod}"

    # An "unready" tag runs but fails its readiness probe: not Ready until the image changes again.
    set_image(trafficsim, "tr-a", ns, pod, "shop:v2-unready")
    wait_for(lambda: not all(p["serving"] for p in get(trafficsim, f"/traffic/v1/pods?namespace={ns}")["pods"]),
             interval=0.005, message="the watch saw the pod restart")
    seen_down = time.monotonic()
    assert _instances(trafficsim, service)[instance]["healthy"] is True  # heartbeats not missed yet
    wait_for(lambda: _instances(trafficsim, service)[instance]["healthy"] is False, message="unhealthy")
    assert time.monotonic() - seen_down >= heartbeat * 0.8
    # Ready again (same pod): healthy at its first heartbeat.
    set_image(trafficsim, "tr-a", ns, pod, "shop:v2")
    wait_for(lambda: _instances(trafficsim, service)[instance]["healthy"] is True, message="healthy again")

    # A deleted pod stays registered until its heartbeats time out, then is dropped.
    core.delete_namespaced_pod(pod, ns, grace_period_seconds=0)
    wait_for(lambda: instance not in _instances(trafficsim, service), message="gone instance dropped")
    wait_for(lambda: len(_instances(trafficsim, service)) == 2, message="replacement registered")


def test_load_balancer_follows_endpoints_late_and_weights_at_once(trafficsim):
    ns = fresh_namespace()
    deploy_app(trafficsim, "tr-a", ns, replicas=2)
    deploy_app(trafficsim, "tr-b", ns, replicas=1)
    lb = f"{ns}.web"
    lag = get(trafficsim, "/traffic/v1/settings")["lb_lag_seconds"]
    backends = wait_for(lambda: (len(found := _backends(trafficsim, lb)) == 3
                                 and all(b["healthy"] for b in found.values()) and found), message="healthy backends")
    assert all(b["weight"] == 100 and b["port"] == 8080 for b in backends.values())
    assert {b["cluster"] for b in backends.values()} == {"tr-a", "tr-b"}
    summary = get(trafficsim, f"/lb/v1/loadbalancers/{lb}")
    assert summary | {"id": lb, "namespace": ns, "service": "web", "clusters": ["tr-a", "tr-b"], "backends": 3,
                      "healthy_backends": 3} == summary
    assert lb in [b["id"] for b in get(trafficsim, "/lb/v1/loadbalancers")["loadbalancers"]]

    core, _ = apis(trafficsim, "tr-a")
    pod = ready_pods(core, ns, "app=web")[0].metadata.name
    backend = f"tr-a/{ns}/{pod}"
    set_image(trafficsim, "tr-a", ns, pod, "shop:v2-unready")
    wait_for(lambda: any(not (s.addresses and any(a.target_ref.name == pod for a in s.addresses))
                         for s in core.read_namespaced_endpoints("web", ns).subsets or []),
             interval=0.005, message="endpoint not ready")
    left = time.monotonic()
    assert _backends(trafficsim, lb)[backend]["healthy"] is True  # the cloud controller has not caught up
    wait_for(lambda: _backends(trafficsim, lb)[backend]["healthy"] is False, message="backend unhealthy")
    assert time.monotonic() - left >= lag * 0.7

    # Weights: validated, at once, kept while the backend exists.
    path = f"/lb/v1/loadbalancers/{lb}/backends/{backend}"
    for body in ({"weight": 101}, {"weight": -1}, {"weight": "50"}, {"weight": True}, {"weight": 1.5}, {}):
        assert call(trafficsim, "PUT", path, body)[0] == 400, body
    status, answer = call(trafficsim, "PUT", path, {"weight": 0})
    assert status == 200 and answer["weight"] == 0 and answer["id"] == backend
    set_image(trafficsim, "tr-a", ns, pod, "shop:v2")
    wait_for(lambda: _backends(trafficsim, lb)[backend]["healthy"] is True, message="healthy again")
    assert _backends(trafficsim, lb)[backend]["weight"] == 0
    assert call(trafficsim, "PUT", f"/lb/v1/loadbalancers/{lb}/backends/tr-a/{ns}/nope", {"weight": 1})[0] == 404
    assert call(trafficsim, "PUT", f"/lb/v1/loadbalancers/{ns}.nope/backends/{backend}", {"weight": 1})[0] == 404
    assert call(trafficsim, "GET", f"/lb/v1/loadbalancers/{ns}.nope/backends")[0] == 404


def _record(server, name: str) -> dict:
    return get(server, f"/dns/v1/zones/paas.local/records/{name}")


def test_dns_records_follow_ready_pods_and_explicit_removals_stay(trafficsim):
    ns = fresh_namespace()
    deploy_app(trafficsim, "tr-a", ns, replicas=2)
    name = f"web.{ns}"
    core, _ = apis(trafficsim, "tr-a")
    ips = sorted(p.status.pod_ip for p in ready_pods(core, ns, "app=web"))
    record = wait_for(lambda: _record(trafficsim, name)["ips"] == ips and _record(trafficsim, name),
                      message="record with the pod IPs")
    assert record | {"fqdn": f"{name}.paas.local", "type": "A", "removed": []} == record
    assert name in [r["name"] for r in get(trafficsim, "/dns/v1/zones/paas.local/records")["records"]]

    status, record = call(trafficsim, "DELETE", f"/dns/v1/zones/paas.local/records/{name}/{ips[0]}")
    assert status == 200 and record["ips"] == ips[1:]  # at once
    assert record["removed"] == [{"ip": ips[0], "cluster": None}]
    time.sleep(get(trafficsim, "/traffic/v1/settings")["lb_lag_seconds"] + 0.2)
    assert _record(trafficsim, name)["ips"] == ips[1:]  # and it stays
    status, record = call(trafficsim, "PUT", f"/dns/v1/zones/paas.local/records/{name}/{ips[0]}")
    assert status == 200 and record["ips"] == ips and record["removed"] == []

    # Limited to one cluster.
    status, record = call(trafficsim, "DELETE", f"/dns/v1/zones/paas.local/records/{name}/{ips[1]}?cluster=tr-a")
    assert status == 200 and record["removed"] == [{"ip": ips[1], "cluster": "tr-a"}] and ips[1] not in record["ips"]
    assert call(trafficsim, "PUT", f"/dns/v1/zones/paas.local/records/{name}/{ips[1]}?cluster=tr-a")[0] == 200

    assert call(trafficsim, "DELETE", f"/dns/v1/zones/paas.local/records/{name}/not-an-ip")[0] == 400
    assert call(trafficsim, "DELETE", f"/dns/v1/zones/paas.local/records/{name}/192.0.2.1")[0] == 404
    assert call(trafficsim, "PUT", f"/dns/v1/zones/paas.local/records/{name}/192.0.2.1")[0] == 404
    assert call(trafficsim, "GET", f"/dns/v1/zones/paas.local/records/nope.{ns}")[0] == 404
    assert call(trafficsim, "GET", "/dns/v1/zones/example.com/records")[0] == 404
    assert get(trafficsim, "/dns/v1/zones") == {"zones": ["paas.local"]}


def test_settings_are_validated(trafficsim):
    before = get(trafficsim, "/traffic/v1/settings")
    for body in ({"lb_lag_seconds": -1}, {"lb_lag_seconds": "1"}, {"lb_lag_seconds": 1e9}, {"other": 1},
                 {"registry_heartbeat_seconds": None}):
        assert call(trafficsim, "PUT", "/traffic/v1/settings", body)[0] == 400, body
    assert get(trafficsim, "/traffic/v1/settings") == before
    assert call(trafficsim, "GET", "/no/such/path")[0] == 404
