"""Live notifications end to end: a real Celery worker runs the task, a real Redis
channel layer carries the event, and only the people allowed to see it receive it.

The WebSocket clients talk to paas.asgi.application (Origin check + session
auth + routing), authenticated with a real session cookie. Async scenarios run
inside sync tests through async_to_sync, so no extra test plugin is needed.
"""
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.utils import timezone

from paas.actors import Actor
from paas.asgi import application
from paas.audit.models import AuditEvent
from tenants import services
from tenants.models import ApiToken, Membership
from tenants.tasks import expire_api_tokens

from .factories import make_token
from .test_celery import celery_worker_fixture, require_redis  # noqa: F401  (the first is a fixture)

PATH = "/ws/notifications/"
ORIGIN = b"http://testserver"
HOST = b"testserver"  # the Host header a browser sends; the Origin must match it (scheme, host, port)
QUIET = 0.5  # how long "receives nothing" waits
EVENT_TIMEOUT = 15  # an event crosses the broker, a worker, Redis pub/sub


@pytest.fixture
def redis_layer(settings, redis_url):
    """The Redis channel layer, with a key prefix of its own (parallel test processes
    share one Redis, and tenant ids repeat across their databases)."""
    require_redis(redis_url)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": f"paas-test-{uuid.uuid4().hex[:12]}"},
        }
    }
    channel_layers.backends = {}
    yield
    # Leave nothing behind in a Redis other test runs share.
    async_to_sync(channel_layers["default"].flush)()
    channel_layers.backends = {}


@pytest.fixture
def session_headers(login):
    def _headers(user, origin: bytes = ORIGIN) -> list[tuple[bytes, bytes]]:
        client = login(user)
        cookie = f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}"
        return [(b"cookie", cookie.encode()), (b"host", HOST), (b"origin", origin)]

    return _headers


async def connect(headers) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, PATH, headers=headers)
    connected, code = await communicator.connect(timeout=EVENT_TIMEOUT)
    assert connected, f"connection refused ({code})"
    hello = await communicator.receive_json_from(timeout=EVENT_TIMEOUT)
    assert hello["type"] == "hello"
    communicator.streams = hello["streams"]
    communicator.tenants = sorted(int(s.split(".")[1]) for s in hello["streams"] if s.startswith("tenant."))
    return communicator


async def disconnect_all(*communicators):
    for communicator in communicators:
        await communicator.disconnect(timeout=EVENT_TIMEOUT)


async def next_event(communicator, timeout: float = EVENT_TIMEOUT) -> dict:
    return await communicator.receive_json_from(timeout=timeout)


def expire_soon(user, tenant) -> ApiToken:
    token, _ = make_token(user, tenant, name="nightly-backup", expires_at=timezone.now() + timedelta(days=1))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    return token


def test_task_event_reaches_exactly_the_people_allowed(redis_layer, celery_worker, personas, tenant,
                                                       session_headers):
    token = expire_soon(personas["developer"], tenant)
    headers = {name: session_headers(personas[name]) for name in ("owner", "developer", "viewer", "outsider")}

    async def scenario():
        sockets = {name: await connect(h) for name, h in headers.items()}
        try:
            assert sockets["owner"].tenants == [tenant.pk]
            assert tenant.pk not in sockets["outsider"].tenants
            result = await database_sync_to_async(expire_api_tokens.delay)()
            # The owner manages the tenant's tokens; the developer owns this one.
            for name in ("owner", "developer"):
                event = await next_event(sockets[name])
                assert event["type"] == "token.expired"
                assert (event["tenant"], event["tenant_id"], event["token"]) == ("acme", tenant.pk, token.prefix)
            # A viewer may not see other people's tokens; the outsider is in another tenant.
            assert await sockets["viewer"].receive_nothing(timeout=QUIET)
            assert await sockets["outsider"].receive_nothing(timeout=QUIET)
            return result
        finally:
            await disconnect_all(*sockets.values())

    result = async_to_sync(scenario)()

    assert celery_worker.wait(result.id) == "SUCCESS"
    assert celery_worker.ran_in_worker_thread
    events = AuditEvent.objects.filter(action="tenant.token.expire")
    assert events.count() == 1
    assert events.get().target_id == str(token.pk)


def test_tenant_events_reach_members_and_not_outsiders(redis_layer, transactional_db, personas, tenant,
                                                       session_headers):
    owner = Actor.for_user(personas["owner"])
    member_headers, outsider_headers = session_headers(personas["viewer"]), session_headers(personas["outsider"])

    async def scenario():
        member, outsider = await connect(member_headers), await connect(outsider_headers)
        try:
            await database_sync_to_async(services.tenant_update)(actor=owner, tenant=tenant, description="Cards")
            event = await next_event(member)
            assert (event["type"], event["tenant"], event["changes"]) == (
                "tenant.updated", "acme", {"description": "Cards"})
            assert event["id"]
            assert await outsider.receive_nothing(timeout=QUIET)
        finally:
            await disconnect_all(member, outsider)

    async_to_sync(scenario)()


def test_unauthenticated_websocket_is_closed(redis_layer, transactional_db):
    async def scenario():
        communicator = WebsocketCommunicator(application, PATH, headers=[(b"host", HOST), (b"origin", ORIGIN)])
        connected, code = await communicator.connect(timeout=EVENT_TIMEOUT)
        assert not connected
        assert code == 4401
        await communicator.disconnect(timeout=EVENT_TIMEOUT)

    async_to_sync(scenario)()


def test_websocket_from_a_foreign_origin_is_rejected(redis_layer, personas, session_headers):
    headers = session_headers(personas["owner"], origin=b"https://evil.example")

    async def scenario():
        communicator = WebsocketCommunicator(application, PATH, headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        assert not connected
        await communicator.disconnect(timeout=EVENT_TIMEOUT)

    async_to_sync(scenario)()


@pytest.mark.parametrize("origin", [b"http://testserver:9999", b"https://testserver", b"http://testserver.evil",
                                    b"null", b""])
def test_websocket_from_another_port_or_scheme_of_the_same_host_is_rejected(redis_layer, personas, session_headers,
                                                                            origin):
    headers = session_headers(personas["owner"], origin=origin)

    async def scenario():
        communicator = WebsocketCommunicator(application, PATH, headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        assert not connected
        await communicator.disconnect(timeout=EVENT_TIMEOUT)

    async_to_sync(scenario)()


def test_websocket_origin_with_explicit_port_and_trusted_origins(redis_layer, transactional_db, personas,
                                                                 session_headers, settings):
    settings.ALLOWED_HOSTS = ["localhost", "portal.example"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://portal.example"]
    base = session_headers(personas["owner"])[:1]

    async def scenario():
        for host, origin in ((b"localhost:8000", b"http://localhost:8000"), (b"portal.example", b"https://portal.example")):
            communicator = await connect([*base, (b"host", host), (b"origin", origin)])
            await communicator.disconnect(timeout=EVENT_TIMEOUT)
        for host, origin in ((b"localhost:8000", b"http://localhost:9999"), (b"evil.example", b"http://evil.example")):
            communicator = WebsocketCommunicator(application, PATH, headers=[*base, (b"host", host), (b"origin", origin)])
            connected, _ = await communicator.connect(timeout=5)
            assert not connected, (host, origin)
            await communicator.disconnect(timeout=EVENT_TIMEOUT)

    async_to_sync(scenario)()


def test_unknown_websocket_path_is_closed_cleanly(redis_layer, personas, session_headers, caplog):
    headers = session_headers(personas["owner"])

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/nope/", headers=headers)
        connected, code = await communicator.connect(timeout=5)
        assert not connected and code == 4404
        await communicator.disconnect(timeout=EVENT_TIMEOUT)

    async_to_sync(scenario)()
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_member_removed_while_connected_stops_receiving(redis_layer, transactional_db, personas, tenant,
                                                        session_headers):
    owner = Actor.for_user(personas["owner"])
    viewer_membership = Membership.objects.get(tenant=tenant, user=personas["viewer"])
    viewer_headers, owner_headers = session_headers(personas["viewer"]), session_headers(personas["owner"])

    async def scenario():
        viewer, watcher = await connect(viewer_headers), await connect(owner_headers)
        try:
            assert viewer.tenants == [tenant.pk]
            await database_sync_to_async(services.member_remove)(actor=owner, membership=viewer_membership)
            await database_sync_to_async(services.tenant_update)(actor=owner, tenant=tenant, description="After")
            # The owner sees both events, so they were sent; the removed viewer sees neither.
            assert (await next_event(watcher))["type"] == "member.removed"
            assert (await next_event(watcher))["type"] == "tenant.updated"
            # The removed viewer is told, and gets nothing more.
            assert await next_event(viewer) == {"type": "unsubscribed", "stream": f"tenant.{tenant.pk}",
                                                "reason": "access"}
            assert await viewer.receive_nothing(timeout=QUIET)
        finally:
            await disconnect_all(viewer, watcher)

    async_to_sync(scenario)()


def test_deactivated_account_is_disconnected(redis_layer, transactional_db, personas, tenant, session_headers):
    owner = Actor.for_user(personas["owner"])
    viewer_headers = session_headers(personas["viewer"])

    def deactivate_viewer():  # as the admin's user form does
        viewer = type(personas["viewer"]).objects.get(pk=personas["viewer"].pk)
        viewer.is_active = False
        viewer.save()

    async def scenario():
        viewer = await connect(viewer_headers)
        try:
            await database_sync_to_async(deactivate_viewer)()
            await database_sync_to_async(services.tenant_update)(actor=owner, tenant=tenant, description="Later")
            closed = await viewer.receive_output(timeout=EVENT_TIMEOUT)
            assert closed == {"type": "websocket.close", "code": 4403}
        finally:
            await viewer.disconnect(timeout=EVENT_TIMEOUT)

    async_to_sync(scenario)()


def test_ping_is_answered(redis_layer, transactional_db, personas, session_headers):
    headers = session_headers(personas["viewer"])

    async def scenario():
        communicator = await connect(headers)
        try:
            await communicator.send_json_to({"type": "ping"})
            assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
        finally:
            await communicator.disconnect(timeout=EVENT_TIMEOUT)

    async_to_sync(scenario)()
