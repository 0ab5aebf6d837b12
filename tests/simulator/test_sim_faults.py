"""Fault injection on the dedicated "sim-faults" cluster, driven through the admin port."""
import socket
import time
from urllib.parse import urlparse

import pytest
import urllib3
from kubernetes import client

from . import (  # noqa: F401
    admin,
    api_client_fixture,
    api_client_for,
    apps_fixture,
    core_fixture,
    kubesim_fixture,
    namespace_fixture,
    wait_for,
)


@pytest.fixture
def faulty(kubesim):
    """A CoreV1Api on sim-faults with client retries off, and faults reset afterwards."""
    api_client = api_client_for(kubesim, "sim-faults")
    api_client.configuration.retries = False
    api_client.rest_client.pool_manager.connection_pool_kw["retries"] = False
    yield client.CoreV1Api(api_client)
    admin(kubesim, "POST", "/clusters/sim-faults/faults",
          {"latency_ms": 0, "error_rate_500": 0, "error_rate_429": 0, "down": False})


def _statuses(api, count):
    codes = []
    for _ in range(count):
        try:
            api.list_namespace()
            codes.append(200)
        except client.ApiException as exc:
            codes.append(exc.status)
    return codes


def test_error_rates(kubesim, faulty):
    admin(kubesim, "POST", "/clusters/sim-faults/faults", {"error_rate_500": 1.0})
    assert set(_statuses(faulty, 5)) == {500}
    admin(kubesim, "POST", "/clusters/sim-faults/faults", {"error_rate_500": 0, "error_rate_429": 1.0})
    with pytest.raises(client.ApiException) as err:
        faulty.list_namespace()
    assert err.value.status == 429 and err.value.headers["Retry-After"] == "1"
    assert '"reason":"TooManyRequests"' in err.value.body
    admin(kubesim, "POST", "/clusters/sim-faults/faults", {"error_rate_500": 0.5, "error_rate_429": 0.0})
    codes = _statuses(faulty, 200)
    assert set(codes) == {200, 500}
    assert 40 < codes.count(500) < 160  # ~50%, with a very wide margin against chance


def test_latency(kubesim, faulty):
    faulty.list_namespace()  # warm the connection
    admin(kubesim, "POST", "/clusters/sim-faults/faults", {"latency_ms": 300})
    started = time.monotonic()
    faulty.list_namespace()
    assert time.monotonic() - started >= 0.3
    assert admin(kubesim, "GET", "/clusters/sim-faults/faults")["latency_ms"] == 300


def test_down_refuses_connections_then_recovers(kubesim, faulty):
    faulty.list_namespace()  # keep a pooled connection open: it must be dropped too
    url = urlparse(kubesim.server.cluster("sim-faults").url)
    admin(kubesim, "POST", "/clusters/sim-faults/faults", {"down": True})
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((url.hostname, url.port), timeout=2).close()
    with pytest.raises(urllib3.exceptions.HTTPError):
        faulty.list_namespace()
    # The admin port still answers while the cluster is down.
    assert admin(kubesim, "GET", "/clusters")[1]["faults"]["down"] is True
    admin(kubesim, "POST", "/clusters/sim-faults/faults", {"down": False})
    wait_for(lambda: _succeeds(faulty), message="cluster back up")


def _succeeds(api) -> bool:
    try:
        api.list_namespace()
    except (client.ApiException, urllib3.exceptions.HTTPError):
        return False
    return True


def test_bad_fault_settings_are_rejected(kubesim):
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as err:
        admin(kubesim, "POST", "/clusters/sim-faults/faults", {"error_rate_500": 2})
    assert err.value.code == 400
