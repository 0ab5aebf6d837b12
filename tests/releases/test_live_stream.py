"""The live stream of one release ("release.<id>") on the notifications socket: who may
subscribe, revocation, replay after a reconnect, delivery without database queries, and
a transition that commits whatever the channel layer does.

The in-memory channel layer carries the events (one test: the Redis one, as in production);
clients talk to paas.asgi.application with a real session cookie.
"""
import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from django.conf import settings as django_settings
from django.db import transaction
from django.db.backends.utils import CursorWrapper

from paas.actors import Actor
from releases import events, live
from releases.models import Release, ReleaseEvent
from tenants import services
from tenants.models import Membership

from ..test_celery import require_redis
from ..test_realtime import HOST, ORIGIN, QUIET, connect, disconnect_all
from .live_factory import make_release

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.LIVE_CHECK_SECONDS = 60
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


@pytest.fixture
def release(tenant):
    return make_release(tenant)


def record(release_id: int, kind: str, **data) -> int:
    """One transition's event, recorded in its transaction as the services and the engine do."""
    with transaction.atomic():
        release = Release.objects.select_for_update().get(pk=release_id)
        return events.record(release, kind, f"{kind} happened", data=data).seq


arecord = database_sync_to_async(record)


def stream(release) -> str:
    return f"release.{release.pk}"


TENANT_NOTICE = "release.state"  # a release's state change also told to its tenant's lists (not this stream)


async def receive(communicator, timeout=5.0) -> dict:
    """The next frame of the release stream (tenant-stream notices of release state changes skipped)."""
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame.get("type") != TENANT_NOTICE:
            return frame


async def quiet(communicator, timeout) -> bool:
    """Nothing more on the release stream within `timeout` (tenant notices aside)."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0 or await communicator.receive_nothing(timeout=left):
            return True
        frame = await communicator.receive_json_from(timeout=1)
        if frame.get("type") != TENANT_NOTICE:
            return False


async def subscribe(communicator, name: str, after=None) -> list[dict]:
    """Send subscribe; return the frames up to and including the answer (subscribed/unsubscribed/reset)."""
    await communicator.send_json_to({"type": "subscribe", "stream": name, "after": after})
    frames = []
    while True:
        frame = await receive(communicator)
        frames.append(frame)
        if frame.get("type") in ("subscribed", "unsubscribed", "reset"):
            return frames


def view(frames) -> list[tuple]:
    """What a page applies: the events (seq, kind, data), in the order received."""
    return [(f["seq"], f["kind"], f["data"]) for f in frames if f.get("type") == live.EVENT_TYPE]


# --- who may subscribe ---------------------------------------------------------------------

ROLES_ALLOWED = {"owner": True, "admin": True, "developer": True, "approver": True, "viewer": True,
                 "auditor": True, "operator": True, "superuser": True, "outsider": False}


def test_subscription_per_role(personas, release, session_headers):
    record(release.pk, "release.created", state="planned")
    headers = {name: session_headers(personas[name]) for name in ROLES_ALLOWED}

    async def scenario():
        sockets = {name: await connect(h) for name, h in headers.items()}
        try:
            frames = {name: await subscribe(c, stream(release), after=0) for name, c in sockets.items()}
            await arecord(release.pk, "release.started", state="running")
            for name, c in sockets.items():
                if ROLES_ALLOWED[name]:
                    frames[name].append(await receive(c))
            for c in sockets.values():
                assert await quiet(c, 0.1)
            return frames
        finally:
            await disconnect_all(*sockets.values())

    frames = async_to_sync(scenario)()
    for name, allowed in ROLES_ALLOWED.items():
        got = frames[name]
        if allowed:
            assert [(f.get("type"), f.get("seq"), f.get("prev")) for f in got] == [
                ("release.event", 1, 0), ("subscribed", None, None), ("release.event", 2, 1)], name
            assert got[1]["head"] == 1
            assert got[2]["kind"] == "release.started" and got[2]["data"] == {"state": "running"}
            assert got[2]["stream"] == stream(release) and got[2]["sent_at"]
        else:
            assert got == [{"type": "unsubscribed", "stream": stream(release), "reason": "access"}], name


def test_another_tenants_release_looks_like_one_that_does_not_exist(personas, release, other_tenant,
                                                                    session_headers):
    foreign = make_release(other_tenant)
    record(foreign.pk, "release.created", state="planned")
    missing = Release.objects.order_by("-pk").first().pk + 100
    headers = session_headers(personas["viewer"])

    async def scenario():
        c = await connect(headers)
        try:
            answers = [await subscribe(c, name, after=0) for name in
                       (stream(foreign), f"release.{missing}")]
            await arecord(foreign.pk, "release.started", state="running")
            assert await quiet(c, QUIET)
            # Nor through resume, which only answers for streams the connection watches.
            await c.send_json_to({"type": "resume", "after": {stream(foreign): 0}})
            answers.append([await receive(c)])
            assert await quiet(c, QUIET)
            return answers
        finally:
            await c.disconnect()

    foreign_answer, missing_answer, resume_answer = async_to_sync(scenario)()
    assert foreign_answer == resume_answer == [{"type": "unsubscribed", "stream": stream(foreign), "reason": "access"}]
    assert missing_answer == [{"type": "unsubscribed", "stream": f"release.{missing}", "reason": "access"}]


HOSTILE = ["release.abc", "release.0", "release.-1", "release." + "9" * 30, "tenant.1", 12, None, ["release.1"],
           "release.1\n", "x" * 5000]


def test_hostile_subscriptions_are_refused_quietly(personas, release, session_headers):
    headers = session_headers(personas["owner"])

    async def scenario():
        c = await connect(headers)
        try:
            answers = []
            for bad in HOSTILE:
                await c.send_json_to({"type": "subscribe", "stream": bad, "after": "nope"})
                answers.append(await receive(c))
            await c.send_json_to({"type": "ping"})  # still serving
            return answers, await receive(c)
        finally:
            await c.disconnect()

    answers, pong = async_to_sync(scenario)()
    for answer in answers:
        assert answer["type"] == "unsubscribed" and answer["reason"] == "access" and len(answer["stream"]) <= 100
    assert pong == {"type": "pong"}


def test_subscriptions_and_lookups_per_connection_are_bounded(personas, release, session_headers, monkeypatch):
    from paas.realtime import consumers

    monkeypatch.setattr(consumers, "MAX_SUBSCRIBE_LOOKUPS", 3)
    headers = session_headers(personas["owner"])

    async def scenario():
        c = await connect(headers)
        try:
            answers = [await subscribe(c, f"release.{release.pk + n}") for n in (1000, 1001)]  # none exist
            answers.append(await subscribe(c, stream(release)))  # the third lookup: allowed
            answers.append(await subscribe(c, f"release.{release.pk + 1002}"))  # the budget is spent
            return answers
        finally:
            await c.disconnect()

    answers = async_to_sync(scenario)()
    assert [a[-1]["type"] for a in answers] == ["unsubscribed", "unsubscribed", "subscribed", "unsubscribed"]
    assert [a[-1].get("reason") for a in answers] == ["access", "access", None, "limit"]


# --- revocation ----------------------------------------------------------------------------

def test_member_removed_is_unsubscribed_and_receives_nothing_more(personas, release, session_headers):
    headers = session_headers(personas["developer"]), session_headers(personas["owner"])
    membership = Membership.objects.get(tenant=release.tenant, user=personas["developer"])

    def remove():
        services.member_remove(actor=Actor.for_user(personas["owner"]), membership=membership)

    async def scenario():
        developer, owner = await connect(headers[0]), await connect(headers[1])
        try:
            for c in (developer, owner):
                await subscribe(c, stream(release))
            await database_sync_to_async(remove)()
            control = []
            while len(control) < 2:  # both streams of the tenant go: its own and the release's
                frame = await receive(developer, timeout=1.0)
                if frame["type"] == "unsubscribed":
                    control.append(frame)
            await arecord(release.pk, "step.started", step=0, name="beta")
            while (frame := await receive(owner)).get("stream") != stream(release):  # member.removed first
                pass
            assert frame["kind"] == "step.started"  # the bystander still gets it
            assert await quiet(developer, QUIET)
            # Nor may it subscribe again.
            again = await subscribe(developer, stream(release), after=0)
            return control, again
        finally:
            await disconnect_all(developer, owner)

    control, again = async_to_sync(scenario)()
    assert {f["stream"] for f in control} == {stream(release), f"tenant.{release.tenant_id}"}
    assert all(f["reason"] == "access" for f in control)
    assert again == [{"type": "unsubscribed", "stream": stream(release), "reason": "access"}]


# --- replay ---------------------------------------------------------------------------------

def test_replay_after_reconnect_equals_the_never_disconnected_view(personas, release, session_headers,
                                                                   monkeypatch):
    """One page stays connected, another drops after two events and resubscribes with the last seq
    it applied; the channel layer also loses one event on the way (the hub fills it from the log).
    Both end with exactly the same events, in order, without gaps or duplicates."""
    record(release.pk, "release.created", state="planned")
    headers = session_headers(personas["viewer"])
    from paas.realtime import emit

    real_send = emit._send
    monkeypatch.setattr(emit, "_send", lambda group, message: (
        None if message.get("seq") == 4 else real_send(group, message)))  # the layer loses #4

    async def scenario():
        steady, flaky = await connect(headers), await connect(headers)
        try:
            steady_frames = await subscribe(steady, stream(release), after=1)
            flaky_frames = await subscribe(flaky, stream(release), after=0)
            for n in range(2):
                await arecord(release.pk, "pod.state", pod=f"web-{n}", state="updating")
            flaky_frames += [await receive(flaky) for _ in range(2)]
            await flaky.disconnect()
            for n in range(2, 6):  # missed while away, #4 lost by the layer too
                await arecord(release.pk, "pod.state", pod=f"web-{n}", state="new")
            flaky = await connect(headers)
            last = max(f["seq"] for f in flaky_frames if "seq" in f)
            flaky_frames += await subscribe(flaky, stream(release), after=last)
            await arecord(release.pk, "release.succeeded", state="succeeded")
            flaky_frames.append(await receive(flaky))
            steady_frames += [await receive(steady) for _ in range(7)]
            assert await quiet(steady, QUIET) and await quiet(flaky, QUIET)
            return steady_frames, flaky_frames
        finally:
            await disconnect_all(steady, flaky)

    steady_frames, flaky_frames = async_to_sync(scenario)()
    stored = [(e.seq, e.kind, e.data) for e in ReleaseEvent.objects.filter(release=release).order_by("seq")]
    assert [s for s, _, _ in stored] == list(range(1, 9))
    assert view(steady_frames) == stored[1:]  # subscribed after #1: the page's snapshot had it
    assert view(flaky_frames) == stored
    # prev chains each frame to the one before it: a page can tell it has everything.
    for frames in (steady_frames, flaky_frames):
        events_only = [f for f in frames if f.get("type") == live.EVENT_TYPE]
        assert all(b["prev"] == a["seq"] for a, b in zip(events_only, events_only[1:], strict=False))


def test_subscribe_too_far_behind_answers_reset(personas, release, session_headers, settings):
    settings.LIVE_RESUME_LIMIT = 2
    for n in range(4):
        record(release.pk, "pod.state", pod=f"web-{n}")
    headers = session_headers(personas["viewer"])

    async def scenario():
        c = await connect(headers)
        try:
            first = await subscribe(c, stream(release), after=0)
            await arecord(release.pk, "pod.state", pod="web-live")
            return first, await receive(c)
        finally:
            await c.disconnect()

    first, live_frame = async_to_sync(scenario)()
    assert first == [{"type": "reset", "stream": stream(release), "head": 4}]
    assert (live_frame["seq"], live_frame["prev"]) == (5, 4)  # live events go on after the head


def test_unsubscribe_stops_deliveries(personas, release, session_headers):
    headers = session_headers(personas["viewer"])

    async def scenario():
        c = await connect(headers)
        try:
            await subscribe(c, stream(release))
            await c.send_json_to({"type": "unsubscribe", "stream": stream(release)})
            answer = await receive(c)
            await arecord(release.pk, "release.started", state="running")
            assert await quiet(c, QUIET)
            return answer
        finally:
            await c.disconnect()

    assert async_to_sync(scenario)() == {"type": "unsubscribed", "stream": stream(release), "reason": "request"}


# --- cost per delivery -----------------------------------------------------------------------

def test_delivery_makes_no_query_per_watcher(personas, release, session_headers, monkeypatch):
    names = ("owner", "viewer", "developer", "auditor", "admin")
    headers = [session_headers(personas[names[i % len(names)]]) for i in range(40)]
    queries = []
    real_execute = CursorWrapper.execute

    def counting(self, sql, params=None):
        queries.append(sql)
        return real_execute(self, sql, params)

    async def scenario():
        watchers = [await connect(h) for h in headers]
        try:
            for w in watchers:
                await subscribe(w, stream(release))
            monkeypatch.setattr(CursorWrapper, "execute", counting)  # every thread's queries
            await arecord(release.pk, "pod.state", pod="web-0", state="new")
            recorded = len(queries)
            got = [await receive(w) for w in watchers]
            await asyncio.sleep(QUIET)  # anything the hub would do late is counted too
            return recorded, len(queries), got
        finally:
            monkeypatch.setattr(CursorWrapper, "execute", real_execute)
            await disconnect_all(*watchers)

    recorded, total, got = async_to_sync(scenario)()
    assert [f["seq"] for f in got] == [1] * 40
    assert recorded > 0 and total == recorded  # the transition's own queries; none for 40 deliveries


def test_over_redis_in_order(personas, release, session_headers, settings, redis_url):
    require_redis(redis_url)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [redis_url], "prefix": f"paas-test-r{release.pk}"}}}
    channel_layers.backends = {}
    headers = session_headers(personas["viewer"])

    async def scenario():
        c = await connect(headers)
        try:
            await subscribe(c, stream(release))
            for n in range(5):
                await arecord(release.pk, "pod.state", pod=f"web-{n}", state="new")
            return [await receive(c) for _ in range(5)]
        finally:
            await c.disconnect()
            await channel_layers["default"].flush()

    frames = async_to_sync(scenario)()
    assert [(f["seq"], f["prev"], f["data"]["pod"]) for f in frames] == [(n + 1, n, f"web-{n}") for n in range(5)]


# --- the channel layer down ------------------------------------------------------------------

def test_redis_down_does_not_break_a_transition(release, settings, caplog):
    """A Redis nobody listens on (a port of this helper's range kept closed): the transition
    commits, its event is stored, and a watcher finds it later in the log."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": ["redis://127.0.0.1:23999/8"]}}}
    channel_layers.backends = {}
    seq = record(release.pk, "release.started", state="running")
    assert seq == 1 and Release.objects.get(pk=release.pk).last_seq == 1
    assert live.after(stream(release), 0, 10)[0]["payload"]["kind"] == "release.started"
    assert "channel layer unavailable" in caplog.text


def test_push_never_raises(release, monkeypatch, caplog):
    from paas.realtime import emit

    def broken(group, message):
        raise RuntimeError("anything at all")

    monkeypatch.setattr(emit, "_send", broken)
    monkeypatch.setattr(emit, "to_tenant", lambda *args, **kwargs: None)  # only the release stream's push here
    assert record(release.pk, "release.started", state="running") == 1
    assert ReleaseEvent.objects.filter(release=release).count() == 1
    assert "not pushed (RuntimeError)" in caplog.text


def test_live_and_replayed_frames_are_the_same(release):
    """The page applies what it is sent live and what it is replayed alike: same payload."""
    pushed = []
    live_push = live.push

    def spy(tenant_id, release_id, payload):
        pushed.append(live._message(release_id, payload, 0)["payload"])
        live_push(tenant_id, release_id, payload)

    import releases.live as module

    module.push = spy
    try:
        record(release.pk, "step.progress", step=0, cluster=3, updated=1, ready=1, desired=2, total=4)
    finally:
        module.push = live_push
    assert pushed == [m["payload"] for m in live.after(stream(release), 0, 10)]
    assert pushed[0]["type"] == live.EVENT_TYPE and pushed[0]["seq"] == 1


def test_a_release_state_change_reaches_the_tenants_release_lists(release, django_capture_on_commit_callbacks):
    """The releases list watches the tenant's stream: a release-level transition is told there too
    (silently), a pod's progress is not."""
    from paas.models import LiveEvent

    tenant_stream = f"tenant.{release.tenant_id}"
    with django_capture_on_commit_callbacks(execute=True):
        record(release.pk, "pod.state", state="updating")
    assert not LiveEvent.objects.filter(stream=tenant_stream, payload__type="release.state").exists()
    with django_capture_on_commit_callbacks(execute=True):
        record(release.pk, "release.started", state="running")
    notice = LiveEvent.objects.filter(stream=tenant_stream).order_by("-seq").first()
    assert notice.payload["type"] == "release.state" and notice.payload["release"] == release.pk
    assert notice.payload["kind"] == "release.started" and notice.permission == "view_tenant"
