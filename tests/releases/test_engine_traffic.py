"""Lossless release through the simulator's load balancer, with its request generator sending
traffic the whole time: with lossless on (each pod's weight set to 0 and drained before the
controller touches it, put back after it serves again) no request fails; with it off, the same
kind of release loses requests (so the check can fail). A metric gate against the simulator's
Prometheus API fails on a faulty image and rolls back, naming the gate and the value; the DNS
provider takes one pod's address out of the simulator's record and puts it back."""
from types import SimpleNamespace

import pytest
import requests

from clusters.simulator.server import BackgroundServer
from releases import services
from releases.engine.executor import advance
from releases.engine.traffic import PodRef
from releases.engine.traffic.dns import DnsProvider
from releases.models import Release
from tests.applications.conftest import SYSTEM
from tests.federation.conftest import CLUSTERS as SIM_CLUSTERS
from tests.federation.conftest import topology  # noqa: F401 (fixture)

from .engine_support import assert_gap_free, create, deploy, pods, revisions

pytestmark = pytest.mark.services
S = Release.State
LB = "acme-test.payments-api-api"


@pytest.fixture(scope="module")
def fedsim(tmp_path_factory):
    """The simulator with its traffic side; pods take 0.5 s to get ready again after an in-place
    restart (long enough for a load balancer that does not know to send requests there)."""
    server = BackgroundServer(list(SIM_CLUSTERS), tmp_path_factory.mktemp("trafficsim"), ready_delay=0.5,
                              nodes_per_cluster=2, traffic_port=0, traffic_lag=1.0, traffic_heartbeat=1.0).start()
    yield server
    server.stop()


@pytest.fixture
def traffic(engine_env):
    url = engine_env["server"].server.traffic.url
    yield url
    requests.delete(f"{url}/traffic/v1/generators/gen", timeout=5)
    requests.delete(f"{url}/faults/v1/metrics", timeout=5)


def start_generator(url: str) -> None:
    requests.delete(f"{url}/traffic/v1/generators/gen", timeout=5)
    response = requests.post(f"{url}/traffic/v1/generators", json={"name": "gen", "target": f"lb:{LB}", "rate": 300},
                             timeout=5)
    assert response.status_code == 201, response.text


def counts(url: str) -> dict:
    return requests.get(f"{url}/traffic/v1/generators/gen", timeout=5).json()


def wait_lb_backends(url: str, count: int) -> None:
    from tests.federation.conftest import wait_for

    def healthy():
        response = requests.get(f"{url}/lb/v1/loadbalancers/{LB}/backends", timeout=5)
        backends = response.json().get("backends", []) if response.status_code == 200 else []
        return len([b for b in backends if b["healthy"] and b["weight"] > 0]) == count

    wait_for(healthy, timeout=20, message=f"{count} healthy LB backends")


def next_revision(app, test, tag: str):
    from applications import services as app_services

    app_services.component_update(actor=SYSTEM, component=app.components.get(), data={"image": f"acme/payments-api:{tag}"})
    return app_services.revision_create(actor=SYSTEM, application=app, environment=test)


def test_lossless_on_loses_no_request_and_off_does(engine_env, tenant, monkeypatch, traffic):
    app, instance, second = deploy(tenant, monkeypatch)
    services.traffic_provider_create(actor=SYSTEM, instance=instance, kind="load_balancer", name="slb", url=traffic,
                                     config={"generator": "gen"})
    wait_lb_backends(traffic, 6)
    start_generator(traffic)
    # Two batches per cell: the second may only go once the first is back in the LB's rotation.
    release = create(instance, second, drain_seconds=1.2, warmup_seconds=0.3, batches=["50%", "100%"])
    assert advance(release.pk) == S.SUCCEEDED
    on = counts(traffic)
    assert on["sent"] > 300 and on["failed"] == 0, on
    backends = requests.get(f"{traffic}/lb/v1/loadbalancers/{LB}/backends", timeout=5).json()["backends"]
    assert sorted(b["weight"] for b in backends) == [100] * 6  # every pod put back
    samples = release.events.filter(kind="traffic.sample")
    assert samples.exists() and all(e.data["failed"] == 0 for e in samples)
    assert_gap_free(release)

    # Lossless off: the controller restarts each pod while the load balancer still sends it requests.
    wait_lb_backends(traffic, 6)
    third = next_revision(app, instance.environment, "3.0")
    start_generator(traffic)
    instance.refresh_from_db()
    release = create(instance, third, lossless=False)
    assert advance(release.pk) == S.SUCCEEDED
    off = counts(traffic)
    assert off["failed"] > 0, off
    print(f"\nlossless on: {on['sent']} sent, {on['failed']} failed; off: {off['sent']} sent, {off['failed']} failed")


def dns_record(url: str) -> dict:
    return requests.get(f"{url}/dns/v1/zones/paas.local/records/payments-api-api.acme-test", timeout=5).json()


def test_a_metric_gate_on_a_faulty_image_rolls_back_naming_the_value(engine_env, tenant, monkeypatch, traffic):
    app, instance, second = deploy(tenant, monkeypatch)
    # The DNS provider takes one pod's address out of the record, and puts it back.
    wait_lb_backends(traffic, 6)  # the record follows the endpoints with a lag
    (cluster, name), pod = sorted(pods().items())[0]
    ref = PodRef(cluster=cluster, namespace="acme-test", name=name, ip=pod.status.pod_ip, application="payments-api",
                 component="api", service="payments-api-api")
    dns = DnsProvider(SimpleNamespace(name="dns", url=traffic, config={}))
    dns.take_out(ref)
    assert {"ip": ref.ip, "cluster": cluster} in dns_record(traffic)["removed"]
    dns.put_back(ref)
    assert not dns_record(traffic)["removed"]

    tag = second.spec["components"][0]["image"].rsplit("@", 1)[-1][:20]  # the pinned digest names the image
    response = requests.post(f"{traffic}/faults/v1/metrics", json={"image": tag, "error_ratio": 0.4}, timeout=5)
    assert response.status_code < 300, response.text
    metric = {"name": "error rate", "op": "<", "threshold": 0.05,
              "query": 'max(sim_http_error_ratio{namespace="{namespace}",pod=~"{pods}"})'}
    release = create(instance, second, on_gate_failure="rollback",
                     gates={"timeout_seconds": 20, "min_ready_ratio": 1.0, "no_restarts": True,
                            "prometheus_url": f"{traffic}/prometheus", "metrics": [metric]})
    assert advance(release.pk) == S.ROLLED_BACK
    release.refresh_from_db()
    gate = release.events.get(kind="gate.result", data__gate="error rate")
    assert gate.data["ok"] is False and gate.data["value"] == pytest.approx(0.4, abs=0.05)
    assert "error rate" in release.reason and "0.4" in release.reason
    assert set(revisions().values()) == {str(instance.baseline.number)}
