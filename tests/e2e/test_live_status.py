"""The live-updates notice: when the server says its channel layer (Redis) is down,
the page tells the user, and the notice goes once a later connection says hello."""
import json

import pytest
from playwright.sync_api import expect

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
