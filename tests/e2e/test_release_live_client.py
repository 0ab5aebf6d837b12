"""static/js/release-live.js in Chromium against the real server: PaasLive.watchRelease applies
a release's events exactly once, in seq order, from the page's snapshot on, although the
network loses one frame, repeats another and drops the socket while events keep coming.

Events are recorded in this process as the engine records them (releases.events.record, on
the server's Redis channel layer), from a thread: Playwright keeps an event loop running on
this one, next to which async_to_sync refuses to run.
"""
import json
import threading
import time

import pytest
from channels.layers import channel_layers
from django.db import connection, transaction

from paas.realtime import emit
from releases import events
from releases.models import Release

from ..releases.live_factory import make_release

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

REAL_SEND = emit._send  # before conftest's autouse fixture silences it

WATCH = """([id, last]) => {
  window.__applied = []; window.__status = [];
  window.PaasLive.watchRelease(id, last, function (event) { window.__applied.push(event.seq); },
                               {onStatus: function (s) { window.__status.push(s); }});
}"""


def wait_until(page, predicate: str, timeout: float = 20.0) -> None:
    """Poll a function in the page (wait_for_function's string form is an eval the CSP refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, f"not true within {timeout:g} s: {predicate}"
        page.wait_for_timeout(100)


def _record_in_thread(release_id: int, kinds: list[str]) -> None:
    def run():
        try:
            for kind in kinds:
                with transaction.atomic():
                    release = Release.objects.select_for_update().get(pk=release_id)
                    events.record(release, kind, kind, data={"step": 0})
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()


@pytest.fixture
def live_layer(request, settings, monkeypatch):
    """This process pushes on the server's Redis channel layer, as a worker does."""
    redis = settings.REDIS_URL or request.getfixturevalue("redis_url")
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [redis]}}}
    channel_layers.backends = {}
    monkeypatch.setattr(emit, "_send", REAL_SEND)
    yield
    channel_layers.backends = {}


def test_events_applied_once_in_order_through_loss_duplicates_and_a_reconnect(b, personas_e2e, tenant,
                                                                             live_layer):
    release = make_release(tenant)
    _record_in_thread(release.pk, ["release.created", "release.started"])  # the page's snapshot has #1
    stream = f"release.{release.pk}"
    seen = {"dropped": [], "doubled": [], "sockets": 0}
    sockets = []

    def route(ws):
        seen["sockets"] += 1
        sockets.append(ws)
        server = ws.connect_to_server()

        def from_server(message):
            frame = json.loads(message) if isinstance(message, str) else {}
            if frame.get("stream") == stream and frame.get("seq") == 4 and not seen["dropped"]:
                seen["dropped"].append(4)  # lost on the way: #5 arrives with a gap before it
                return
            ws.send(message)
            if frame.get("stream") == stream and frame.get("seq") == 6 and not seen["doubled"]:
                seen["doubled"].append(6)
                ws.send(message)  # and a repeated one

        server.on_message(from_server)

    page = b.new_page()
    page.route_web_socket("**/ws/notifications/", route)
    b.login(page, personas_e2e["viewer"])
    b.socket_frames(page)
    page.evaluate(WATCH, [release.pk, 1])
    wait_until(page, "() => window.__applied.length === 1")  # #2, replayed at subscription

    _record_in_thread(release.pk, ["step.started", "pod.state", "pod.state", "pod.state", "step.progress"])
    wait_until(page, "() => window.__applied.length === 6")
    sockets[-1].close()  # the network drops the socket; the page reconnects with backoff
    _record_in_thread(release.pk, ["step.succeeded", "release.succeeded"])  # sent while away
    wait_until(page, "() => window.__applied.length >= 8")
    page.wait_for_timeout(500)  # nothing more may come

    assert page.evaluate("window.__applied") == list(range(2, 10))
    assert seen["dropped"] == [4] and seen["doubled"] == [6] and seen["sockets"] >= 2
    statuses = page.evaluate("window.__status")
    assert statuses[0] in ("connecting", "live") and statuses[-1] == "live" and "offline" in statuses


def test_another_tenants_release_is_denied(b, personas_e2e, other_tenant, live_layer):
    release = make_release(other_tenant)
    _record_in_thread(release.pk, ["release.created"])
    page = b.new_page(personas_e2e["viewer"])
    b.socket_frames(page)
    page.evaluate(WATCH, [release.pk, 0])
    wait_until(page, "() => window.__status.indexOf('denied') !== -1")
    _record_in_thread(release.pk, ["release.started"])
    page.wait_for_timeout(500)
    assert page.evaluate("window.__applied") == []
