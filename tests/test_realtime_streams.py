"""Live streams (paas.realtime): numbered events, gap repair, resume, access pushed
per user, and a fan-out that costs no database query per watcher.

The in-memory channel layer carries the events (the Redis one is covered by
tests/test_realtime.py); WebSocket clients talk to paas.asgi.application with a real
session cookie, as there.
"""
import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from paas.actors import Actor
from paas.asgi import application
from paas.models import LiveEvent, LiveStream
from paas.permissions import can
from paas.realtime import emit, store
from paas.realtime.access import live_access
from paas.realtime.metrics import LATE, LOST
from tenants import services
from tenants.models import Membership
from tenants.roles import TENANT_PERMISSIONS, Role

from .factories import make_token
from .test_realtime import HOST, ORIGIN, PATH, QUIET, connect, disconnect_all

pytestmark = pytest.mark.django_db(transaction=True)

WITHIN = 1.0  # access changes must stop deliveries within a second


@pytest.fixture(autouse=True)
def memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.LIVE_CHECK_SECONDS = 60  # only where a test asks for the periodic check
    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


@pytest.fixture
def session_headers(login):
    def _headers(user) -> list[tuple[bytes, bytes]]:
        cookie = login(user).cookies[django_settings.SESSION_COOKIE_NAME]
        return [(b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie.value}".encode()),
                (b"host", HOST), (b"origin", ORIGIN)]

    return _headers


def send(tenant, kind, permission=None, users=()):
    """One event, emitted in its own transaction as the services do."""
    with transaction.atomic():
        emit.to_tenant(tenant.pk, {"type": kind}, permission=permission, users=users)
    return head(tenant)  # numbered once the transaction committed


asend = database_sync_to_async(send)


async def receive(communicator, timeout=5.0) -> dict:
    return await communicator.receive_json_from(timeout=timeout)


def stream_of(tenant) -> str:
    return f"tenant.{tenant.pk}"


def head(tenant) -> int:
    """The stream's head now (fixtures emit events too: member.added for each persona)."""
    return store.heads([stream_of(tenant)])[stream_of(tenant)]


# --- numbering and the stream log ---------------------------------------------------

def test_events_are_numbered_per_stream_and_stored(tenant, other_tenant):
    assert [send(tenant, "a"), send(tenant, "b"), send(other_tenant, "c"), send(tenant, "d")] == [1, 2, 1, 3]
    assert LiveStream.objects.get(name=stream_of(tenant)).head == 3
    stored = LiveEvent.objects.filter(stream=stream_of(tenant)).order_by("seq")
    assert [(e.seq, e.payload["type"], e.payload["tenant_id"]) for e in stored] == [
        (1, "a", tenant.pk), (2, "b", tenant.pk), (3, "d", tenant.pk)]


def test_a_rolled_back_event_leaves_no_number_used(tenant):
    send(tenant, "a")
    with pytest.raises(RuntimeError), transaction.atomic():
        emit.to_tenant(tenant.pk, {"type": "never"})
        raise RuntimeError
    assert send(tenant, "b") == 2
    assert list(LiveEvent.objects.values_list("seq", flat=True).order_by("seq")) == [1, 2]


def test_prune_keeps_the_newest_within_retention(tenant, settings):
    settings.LIVE_EVENTS_KEEP = 2
    for kind in "abcd":
        send(tenant, kind)
    LiveEvent.objects.filter(seq=4).update(created_at=timezone.now())
    assert store.prune() == 2
    assert sorted(LiveEvent.objects.values_list("seq", flat=True)) == [3, 4]
    settings.LIVE_EVENTS_RETENTION_SECONDS = 60
    LiveEvent.objects.filter(seq=3).update(created_at=timezone.now() - timezone.timedelta(hours=1))
    assert store.prune() == 1


# --- access snapshot -------------------------------------------------------------------

def test_access_snapshot_agrees_with_can(personas, tenant, other_tenant):
    services.tenant_update(actor=Actor.for_user(personas["superuser"]), tenant=other_tenant, is_active=False)
    other_tenant.refresh_from_db()
    for name, user in personas.items():
        access = live_access(user.pk)
        actor = Actor.for_user(user)
        for t in (tenant, other_tenant):
            expected = {c for c in TENANT_PERMISSIONS if can(actor, c, t)}
            assert access.get(stream_of(t), frozenset()) == (expected if "view_tenant" in expected else set()), (
                name, t.slug)
    user = personas["viewer"]
    user.is_active = False
    user.save()
    assert live_access(user.pk) is None


# --- delivery ----------------------------------------------------------------------

def test_hello_names_the_streams_and_their_heads(personas, tenant, other_tenant, session_headers):
    send(tenant, "a")
    b = send(tenant, "b")
    headers = session_headers(personas["viewer"])

    async def scenario():
        viewer = await connect(headers)
        await viewer.disconnect()
        return viewer.streams

    assert async_to_sync(scenario)() == {stream_of(tenant): b}


def test_restricted_events_are_skipped_with_the_right_prev(personas, tenant, session_headers):
    headers = {name: session_headers(personas[name]) for name in ("owner", "viewer")}

    async def scenario():
        owner, viewer = await connect(headers["owner"]), await connect(headers["viewer"])
        try:
            await asend(tenant, "open")
            await asend(tenant, "secret", permission="manage_api_tokens")
            await asend(tenant, "mine", permission="manage_api_tokens", users=[personas["viewer"].pk])
            await asend(tenant, "open-again")
            seen = {name: [await receive(c) for _ in range(n)]
                    for name, c, n in (("owner", owner, 4), ("viewer", viewer, 3))}
            assert await viewer.receive_nothing(timeout=QUIET)
            return seen
        finally:
            await disconnect_all(owner, viewer)

    b = head(tenant)
    seen = async_to_sync(scenario)()
    assert [(e["type"], e["seq"] - b, e["prev"] - b) for e in seen["owner"]] == [
        ("open", 1, 0), ("secret", 2, 1), ("mine", 3, 2), ("open-again", 4, 3)]
    # The viewer never sees #2 and is told so: its #3 follows #1.
    assert [(e["type"], e["seq"] - b, e["prev"] - b) for e in seen["viewer"]] == [
        ("open", 1, 0), ("mine", 3, 1), ("open-again", 4, 3)]
    event = seen["viewer"][0]
    assert event["stream"] == stream_of(tenant) and event["tenant_id"] == tenant.pk and event["id"]
    assert abs(event["sent_at"] - time.time()) < 30


def test_a_foreign_tenants_events_never_arrive_not_even_by_resume(personas, tenant, other_tenant,
                                                                   session_headers):
    headers = session_headers(personas["viewer"])

    async def scenario():
        viewer = await connect(headers)
        try:
            await asend(other_tenant, "foreign")
            assert await viewer.receive_nothing(timeout=QUIET)
            await viewer.send_json_to({"type": "resume", "after": {stream_of(other_tenant): 0}})
            answer = await receive(viewer)
            assert await viewer.receive_nothing(timeout=QUIET)
            return answer
        finally:
            await viewer.disconnect()

    answer = async_to_sync(scenario)()
    assert answer == {"type": "unsubscribed", "stream": stream_of(other_tenant), "reason": "access"}


def test_a_gap_is_detected_and_filled_from_the_log(personas, tenant, session_headers, monkeypatch, caplog):
    headers = session_headers(personas["viewer"])
    real_send = emit._send
    b = head(tenant)
    monkeypatch.setattr(emit, "_send", lambda group, message: (
        None if message.get("seq") == b + 2 else real_send(group, message)))  # the layer "loses" #2
    lost, late = LOST._value.get(), LATE._value.get()

    async def scenario():
        viewer = await connect(headers)
        try:
            for kind in ("one", "two", "three"):
                await asend(tenant, kind)
            return [await receive(viewer) for _ in range(3)]
        finally:
            await viewer.disconnect()

    events = async_to_sync(scenario)()
    assert [(e["type"], e["seq"] - b, e["prev"] - b) for e in events] == [
        ("one", 1, 0), ("two", 2, 1), ("three", 3, 2)]
    assert LOST._value.get() - lost == 1 and LATE._value.get() == late
    assert "not received from the channel layer" in caplog.text


def test_a_lost_last_event_is_found_by_the_periodic_check(personas, tenant, session_headers, monkeypatch,
                                                          settings):
    settings.LIVE_CHECK_SECONDS = 0.2
    headers = session_headers(personas["viewer"])
    monkeypatch.setattr(emit, "_send", lambda group, message: None)  # the layer loses everything

    async def scenario():
        viewer = await connect(headers)
        try:
            await asend(tenant, "only")
            return await receive(viewer, timeout=3)
        finally:
            await viewer.disconnect()

    b = head(tenant)
    event = async_to_sync(scenario)()
    assert (event["type"], event["seq"] - b, event["prev"] - b) == ("only", 1, 0)


def test_resume_replays_what_was_missed_then_continues_live(personas, tenant, session_headers):
    headers = session_headers(personas["viewer"])

    async def scenario():
        first = await connect(headers)
        head = first.streams[stream_of(tenant)]
        await first.disconnect()
        for kind in ("missed-1", "missed-2"):
            await asend(tenant, kind)
        await asend(tenant, "hidden", permission="manage_api_tokens")
        again = await connect(headers)
        try:
            assert again.streams == {stream_of(tenant): head + 3}
            await again.send_json_to({"type": "resume", "after": {stream_of(tenant): head}})
            replay = [await receive(again) for _ in range(3)]
            await asend(tenant, "live")
            return replay + [await receive(again)]
        finally:
            await again.disconnect()

    b = head(tenant)
    frames = async_to_sync(scenario)()

    def rel(value):
        return None if value is None else value - b

    assert [(f["type"], rel(f.get("seq")), rel(f.get("prev")), rel(f.get("head"))) for f in frames] == [
        ("missed-1", 1, 0, None), ("missed-2", 2, 1, None), ("resumed", None, None, 3), ("live", 4, 3, None)]


def test_resume_too_far_behind_answers_reset(personas, tenant, session_headers, settings):
    settings.LIVE_RESUME_LIMIT = 2
    for kind in "abc":
        last = send(tenant, kind)
    headers = session_headers(personas["viewer"])

    async def scenario():
        viewer = await connect(headers)
        try:
            await viewer.send_json_to({"type": "resume", "after": {stream_of(tenant): last - 3}})
            first = await receive(viewer)
            await viewer.send_json_to({"type": "resume", "after": {stream_of(tenant): last + 9}})  # another life
            return first, await receive(viewer)
        finally:
            await viewer.disconnect()

    assert async_to_sync(scenario)() == (
        {"type": "reset", "stream": stream_of(tenant), "head": last},
        {"type": "reset", "stream": stream_of(tenant), "head": last})


def test_fan_out_makes_no_query_per_watcher(personas, tenant, session_headers, monkeypatch):
    headers = [session_headers(personas[name]) for name in ("owner", "viewer", "developer", "auditor")]
    queries = []
    real_execute = CursorWrapper.execute

    def counting(self, sql, params=None):
        queries.append(sql)
        return real_execute(self, sql, params)

    async def scenario():
        watchers = [await connect(headers[i % len(headers)]) for i in range(50)]
        try:
            monkeypatch.setattr(CursorWrapper, "execute", counting)  # every thread's queries
            await asend(tenant, "counted", permission="manage_api_tokens")
            emitted = len(queries)
            events = [await receive(w) for w in watchers[::4]]  # the owner's connections
            events = [e for e in events if e["type"] == "counted"]
            for w in watchers[2::4]:  # developers may not see it
                assert await w.receive_nothing(timeout=0.05)
            await asend(tenant, "everyone")
            for w in watchers:
                while (await receive(w))["type"] != "everyone":
                    pass
            return emitted, len(queries), len(events)
        finally:
            monkeypatch.setattr(CursorWrapper, "execute", real_execute)
            await disconnect_all(*watchers)

    emitted, total, owners = async_to_sync(scenario)()
    assert owners == 13  # watchers 0, 4, 8, ... are the owner
    assert total == 2 * emitted  # two emits' own queries; nothing for 50 deliveries each


# --- access changes stop deliveries within a second --------------------------------------

def _revocation(personas, tenant, session_headers, change, *, permission=None, expect_frame=None):
    """Apply `change` to the viewer-side user, then emit; the user must get nothing after
    the change (its control frame aside), while a bystander owner still receives."""
    headers = session_headers(personas["developer"]), session_headers(personas["owner"])

    async def scenario():
        user, owner = await connect(headers[0]), await connect(headers[1])
        try:
            started = time.monotonic()
            await database_sync_to_async(change)()
            frames = []
            if expect_frame is not None:
                frames.append(await user.receive_output(timeout=WITHIN))
            elapsed = time.monotonic() - started
            await asend(tenant, "after", permission=permission)
            while (await receive(owner))["type"] != "after":  # the change's own event comes first
                pass
            assert await user.receive_nothing(timeout=QUIET)
            return frames, elapsed
        finally:
            await disconnect_all(user, owner)

    frames, elapsed = async_to_sync(scenario)()
    assert elapsed < WITHIN
    return frames


def test_member_removed_stops_deliveries_within_a_second(personas, tenant, session_headers):
    membership = Membership.objects.get(tenant=tenant, user=personas["developer"])

    def remove():
        services.member_remove(actor=Actor.for_user(personas["owner"]), membership=membership)

    frames = _revocation(personas, tenant, session_headers, remove, expect_frame=True)
    assert frames[0]["type"] == "websocket.send"
    assert frames[0]["text"] == f'{{"type": "unsubscribed", "stream": "tenant.{tenant.pk}", "reason": "access"}}'


def test_role_downgraded_stops_restricted_deliveries(personas, tenant, session_headers):
    membership = Membership.objects.get(tenant=tenant, user=personas["developer"])
    services.member_change_role(actor=Actor.for_user(personas["owner"]), membership=membership, role=Role.ADMIN)

    def downgrade():
        services.member_change_role(actor=Actor.for_user(personas["owner"]), membership=membership,
                                    role=Role.VIEWER)

    # The owner's member.changed event reaches the developer first; the restricted one must not.
    frames = _revocation(personas, tenant, session_headers, downgrade, permission="manage_api_tokens",
                         expect_frame=True)
    assert '"member.changed"' in frames[0]["text"]


def test_deactivated_account_is_closed_within_a_second(personas, tenant, session_headers):
    def deactivate():
        user = type(personas["developer"]).objects.get(pk=personas["developer"].pk)
        user.is_active = False
        user.save()

    frames = _revocation(personas, tenant, session_headers, deactivate, expect_frame=True)
    assert frames == [{"type": "websocket.close", "code": 4403}]


def test_api_tokens_cannot_open_live_sockets(personas, tenant):
    """Tokens never open a socket (session cookie only), so revoking one has nothing to stop."""
    _, plaintext = make_token(personas["owner"], tenant)

    async def scenario():
        communicator = WebsocketCommunicator(application, PATH, headers=[
            (b"host", HOST), (b"origin", ORIGIN), (b"authorization", f"Token {plaintext}".encode())])
        connected, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected, code

    assert async_to_sync(scenario)() == (False, 4401)


def test_member_added_while_connected_is_subscribed(personas, tenant, other_tenant, session_headers):
    headers = session_headers(personas["viewer"])

    def add():
        services.member_add(actor=Actor.for_user(personas["outsider"]), tenant=other_tenant,
                            user=personas["viewer"], role=Role.VIEWER)

    async def scenario():
        viewer = await connect(headers)
        try:
            await database_sync_to_async(add)()
            subscribed = await receive(viewer)
            await asend(other_tenant, "now-visible")
            return subscribed, await receive(viewer)
        finally:
            await viewer.disconnect()

    subscribed, event = async_to_sync(scenario)()
    assert subscribed["type"] == "subscribed" and subscribed["stream"] == stream_of(other_tenant)
    assert (event["type"], event["prev"]) == ("now-visible", subscribed["head"])


def test_archived_tenant_stops_restricted_deliveries(personas, tenant, session_headers):
    def archive():
        services.tenant_update(actor=Actor.for_user(personas["superuser"]), tenant=tenant, is_active=False)

    headers = session_headers(personas["owner"])

    async def scenario():
        owner = await connect(headers)
        try:
            await database_sync_to_async(archive)()
            assert (await receive(owner))["type"] == "tenant.updated"
            await asend(tenant, "restricted", permission="manage_api_tokens")
            await asend(tenant, "open")
            return await receive(owner)
        finally:
            await owner.disconnect()

    # The owner may still see the archived tenant, but no longer manage its tokens.
    assert async_to_sync(scenario)()["type"] == "open"


def test_access_snapshot_counts_group_grants_and_is_pushed_when_they_change(personas, other_tenant,
                                                                             monkeypatch):
    from django.contrib.auth.models import Group
    from guardian.shortcuts import assign_perm

    from paas.realtime import signals as live_signals

    viewer = personas["viewer"]
    group = Group.objects.create(name="globex-readers")
    assign_perm("tenants.view_tenant", group, other_tenant)
    assert stream_of(other_tenant) not in live_access(viewer.pk)
    pushed = []
    monkeypatch.setattr(live_signals, "access_changed", pushed.append)
    viewer.groups.add(group)
    assert pushed == [viewer.pk]
    assert live_access(viewer.pk)[stream_of(other_tenant)] == {"view_tenant"}
    assert can(Actor.for_user(type(viewer).objects.get(pk=viewer.pk)), "view_tenant", other_tenant)


def test_reconnect_storm_everyone_catches_up(personas, tenant, session_headers):
    """Many browsers reconnecting at once (a web process restart) all get what they missed.
    How fast is the benchmark's business (paas/realtime/bench.py); this checks that none is lost."""
    names = ("owner", "viewer", "developer", "auditor", "admin", "approver")
    headers = [session_headers(personas[names[i % len(names)]]) for i in range(60)]

    async def rejoin(h, after):
        c = await connect(h)
        await c.send_json_to({"type": "resume", "after": {stream_of(tenant): after}})
        frames = []
        while not frames or frames[-1]["type"] != "resumed":
            frames.append(await receive(c, timeout=10))
        await c.disconnect()
        return frames

    async def scenario():
        first = [await connect(h) for h in headers]
        after = first[0].streams[stream_of(tenant)]
        await disconnect_all(*first)
        for kind in ("a", "b", "c"):
            await asend(tenant, kind)
        return after, await asyncio.gather(*(rejoin(h, after) for h in headers))

    after, results = async_to_sync(scenario)()
    for frames in results:
        assert [(f["type"], f.get("seq"), f.get("prev")) for f in frames] == [
            ("a", after + 1, after), ("b", after + 2, after + 1), ("c", after + 3, after + 2),
            ("resumed", None, None)]


def test_a_rejoin_while_the_last_watcher_leaves_keeps_the_process_in_the_group(personas, tenant, session_headers,
                                                                               monkeypatch):
    """The last watcher's group_discard is still on its way when another connection joins the
    same stream: the join must land after the discard, or the process silently drops out of
    the group (events would then come only from the periodic check, here off)."""
    from channels.layers import InMemoryChannelLayer

    real_discard = InMemoryChannelLayer.group_discard

    async def slow_discard(self, group, channel):
        await asyncio.sleep(1.0)  # a discard on a busy Redis
        await real_discard(self, group, channel)

    monkeypatch.setattr(InMemoryChannelLayer, "group_discard", slow_discard)
    first, second = session_headers(personas["viewer"]), session_headers(personas["developer"])

    async def scenario():
        leaving = await connect(first)
        gone = asyncio.ensure_future(leaving.disconnect(timeout=5))  # the discard starts ...
        await asyncio.sleep(0.05)
        joining = await connect(second)  # ... and another watcher joins meanwhile
        await gone
        try:
            await asend(tenant, "after-rejoin")
            return await receive(joining, timeout=3)
        finally:
            await joining.disconnect(timeout=5)

    event = async_to_sync(scenario)()
    assert event["type"] == "after-rejoin"
