"""The live-updates notice: when the server says its channel layer (Redis) is down,
the page tells the user, and the notice goes once a later connection says hello."""
import json

import pytest
from playwright.sync_api import expect

from paas.actors import Actor
from tenants import services

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_page_says_live_updates_are_unavailable_until_the_socket_is_back(b, personas_e2e, tenant):
    page = b.new_page(personas_e2e["viewer"])
    attempts = []

    def route(ws):
        attempts.append(ws)
        if len(attempts) == 1:  # what the consumer answers while Redis is down
            ws.send(json.dumps({"type": "unavailable", "reason": "live-updates"}))
            ws.close(code=4503, reason="")
        else:  # Redis is back: the real server
            ws.connect_to_server()

    page.route_web_socket("**/ws/notifications/", route)
    b.goto(page, "/")
    notice = page.locator("#live-status")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Live updates are unavailable")
    expect(notice).to_have_attribute("role", "status")
    expect(notice).to_be_hidden(timeout=15_000)  # the client reconnected with backoff and got "hello"
    assert len(attempts) >= 2


def test_page_fetches_an_event_the_network_lost(b, personas_e2e, tenant):
    """An event dropped between server and browser: the next one shows the gap (its
    `prev`), the page sends a resume, and the lost event is shown after all."""
    page = b.new_page(personas_e2e["viewer"])
    dropped = []

    def route(ws):
        server = ws.connect_to_server()

        def from_server(message):
            frame = json.loads(message) if isinstance(message, str) else {}
            if frame.get("type") == "environment.created" and not dropped:
                dropped.append(frame)  # lost on the way
                return
            ws.send(message)

        server.on_message(from_server)

    page.route_web_socket("**/ws/notifications/", route)
    b.goto(page, "/")
    b.socket_frames(page)
    owner = Actor.for_user(personas_e2e["owner"])
    services.environment_create(actor=owner, tenant=tenant, name="Perf", slug="perf", kind="test")
    services.tenant_update(actor=owner, tenant=tenant, description="After the gap")
    expect(page.locator("#toast-area .toast", has_text="Tenant updated")).to_be_visible(timeout=10_000)
    expect(page.locator("#toast-area .toast", has_text="Environment created")).to_be_visible(timeout=10_000)
    assert len(dropped) == 1
    resumes = [f for f in b.socket_frames(page) if f.get("type") == "resumed"]
    assert resumes and resumes[-1]["stream"] == f"tenant.{tenant.pk}"
