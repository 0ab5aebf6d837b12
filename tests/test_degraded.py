"""Redis down (cache, channel layer and broker all unreachable): the portal degrades
instead of failing. Sign-in, API reads and writes, and the WebSocket handshake answer
as usual; throttling fails open; the client is told that live updates are off;
/healthz stays a plain liveness check while /readyz names what is down.

"Down" is a closed port on 127.0.0.1: connections are refused at once, like a
stopped Redis. (A Redis that hangs is bounded by the socket timeouts in settings.)
"""
import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer
from channels.testing import WebsocketCommunicator

from paas.celery import app as celery_app

from .broker import reset_broker_connections
from .cache_down import closed_port
from .factories import PASSWORD


@pytest.fixture
def redis_down(settings):
    """Cache, channel layer and Celery broker all pointing at a Redis that is not there."""
    url = f"redis://127.0.0.1:{closed_port()}/0"
    caches, layers = settings.CACHES, settings.CHANNEL_LAYERS
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url,
                                   "OPTIONS": settings.CACHE_REDIS_OPTIONS}}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [url]}}}
    saved = celery_app.conf.broker_url
    celery_app.conf.broker_url = url
    reset_broker_connections()
    yield url
    # Back before the autouse cache.clear() of tests/conftest.py runs its teardown.
    settings.CACHES, settings.CHANNEL_LAYERS = caches, layers
    celery_app.conf.broker_url = saved
    reset_broker_connections()


def timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def test_login_works_without_redis(redis_down, personas, client):
    response, took = timed(lambda: client.post("/accounts/login/", {"username": "developer", "password": PASSWORD}))
    assert response.status_code == 302, response.content[:500]
    assert took < 5


def test_api_reads_and_writes_work_without_redis(redis_down, personas, login, tenant):
    client = login(personas["owner"])
    response, took = timed(lambda: client.get("/api/v1/tenants/"))
    assert response.status_code == 200 and took < 5
    response = client.patch(f"/api/v1/tenants/{tenant.slug}/", {"name": "Acme Pay"}, content_type="application/json")
    assert response.status_code == 200, response.content[:500]
    tenant.refresh_from_db()
    assert tenant.name == "Acme Pay"


def test_websocket_handshake_without_redis_tells_the_client(redis_down, personas):
    from paas.asgi import application

    async def run():
        communicator = WebsocketCommunicator(application, "/ws/notifications/",
                                             headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")])
        communicator.scope["user"] = personas["developer"]
        connected, _ = await communicator.connect(timeout=10)
        message = await communicator.receive_json_from(timeout=10) if connected else None
        closed = await communicator.receive_output(timeout=10)
        await communicator.disconnect()
        return connected, message, closed

    connected, message, closed = async_to_sync(run)()
    assert connected  # the handshake succeeds: no error page for the browser
    assert message == {"type": "unavailable", "reason": "live-updates"}
    assert closed == {"type": "websocket.close", "code": 4503}  # the client retries with backoff


# --- liveness and readiness ------------------------------------------------------

def test_healthz_is_plain_liveness_even_without_redis(redis_down, client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_reports_every_dependency_when_all_are_up(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker", "channel_layer"}
    for check in body["checks"].values():
        assert check["status"] == "ok" and check["latency_ms"] >= 0
    assert body["checks"]["database"]["required"] is True
    assert response["Cache-Control"].startswith("max-age=0")


def test_readyz_without_redis_is_degraded_but_ready_and_names_no_host(redis_down, client, db):
    response, took = timed(lambda: client.get("/readyz"))
    assert response.status_code == 200  # the portal still serves: keep it in the load balancer
    body = response.json()
    assert body["status"] == "degraded"
    checks = body["checks"]
    assert checks["database"]["status"] == "ok"
    for name in ("cache", "broker", "channel_layer"):
        assert checks[name]["status"] == "error" and checks[name]["required"] is False
        assert checks[name]["error"]  # a class name such as ConnectionError
    port = redis_down.rsplit(":", 1)[1].split("/")[0]
    assert "127.0.0.1" not in response.content.decode() and port not in response.content.decode()
    assert took < 10


def test_readyz_is_503_when_a_required_dependency_is_down(redis_down, client, db, settings):
    settings.READINESS_REQUIRED = ["database", "cache"]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_readyz_is_503_without_the_database(client, db, monkeypatch):
    from paas.web import health

    def broken():
        from django.db import OperationalError

        raise OperationalError("could not connect to server at db.internal:5432 password=secret")

    monkeypatch.setitem(health.CHECKS, "database", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"status": "error", "error": "OperationalError",
                                                     "required": True,
                                                     "latency_ms": response.json()["checks"]["database"]["latency_ms"]}
    assert "db.internal" not in response.content.decode() and "secret" not in response.content.decode()


def test_redis_timeouts_bound_requests_but_not_the_idle_live_socket(monkeypatch):
    """With REDIS_URL set: cache calls give up fast, while the channel layer's socket timeout
    outlasts its blocking receive (a shorter one closed every idle WebSocket after 2 s)."""
    import runpy
    from pathlib import Path

    from channels_redis.core import RedisChannelLayer

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/9")
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    conf = runpy.run_path(str(Path(__file__).resolve().parents[1] / "paas" / "settings.py"))
    assert conf["CACHES"]["default"]["OPTIONS"]["socket_timeout"] <= 2
    host = conf["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"][0]
    assert host["address"] == "redis://127.0.0.1:6379/9"
    assert host["socket_connect_timeout"] <= 2
    assert host["socket_timeout"] > RedisChannelLayer.brpop_timeout
    assert conf["CELERY_BROKER_CONNECTION_TIMEOUT"] <= 5


class FlakyLayer(InMemoryChannelLayer):
    """Receives nothing until told to fail, as a Redis that goes away would."""

    gate = {"fail": False}

    async def receive(self, channel):
        while not self.gate["fail"]:
            await asyncio.sleep(0.02)
        raise ConnectionError("Redis went away")


def test_websocket_told_when_the_layer_fails_after_connecting(personas, settings):
    """Redis goes away while a browser is connected: it gets the notice and a 4503 close
    (it reconnects with backoff), instead of the connection dying with an error."""
    from paas.asgi import application

    gate = FlakyLayer.gate = {"fail": False}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.FlakyLayer"}}

    async def run():
        communicator = WebsocketCommunicator(application, "/ws/notifications/",
                                             headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")])
        communicator.scope["user"] = personas["developer"]
        connected, _ = await communicator.connect(timeout=10)
        hello = await communicator.receive_json_from(timeout=10)
        gate["fail"] = True
        notice = await communicator.receive_json_from(timeout=10)
        closed = await communicator.receive_output(timeout=10)
        await communicator.disconnect()
        return connected, hello, notice, closed

    connected, hello, notice, closed = async_to_sync(run)()
    assert connected and hello["type"] == "hello"
    assert notice == {"type": "unavailable", "reason": "live-updates"}
    assert closed == {"type": "websocket.close", "code": 4503}
