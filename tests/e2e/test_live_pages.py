"""Pages that update themselves (static/js/live.js): a federated resource list gains a row
and a detail header changes its badge without a reload, a burst of events costs one
request, and a lost connection is said in the navbar and caught up on after it is back.

Changes are made in this test process; their live events are stored and reach the browser
through the server's hub (its periodic check, LIVE_CHECK_SECONDS), as events another
process emitted would."""
import importlib
import re

import pytest
from django.apps import apps
from playwright.sync_api import expect

from clusters.federation import services, status
from clusters.federation.models import FederatedType
from paas.actors import Actor
from paas.realtime import emit
from tenants import services as services_tenants
from tests.federation.conftest import converge, deployment, fedsim, topology  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

LIST = "/federation/acme/prod/"
EVENT_WAIT = 20_000  # ms: an event from this process arrives with the hub's next check (5 s)


@pytest.fixture
def ftypes(transactional_db):
    """The built-in types: their migration's rows do not survive a transactional test's flush."""
    importlib.import_module("clusters.federation.migrations.0002_builtin_types").seed(apps, None)
    return {t.kind: t for t in FederatedType.objects.all()}


def _create(personas, ftypes, topo, name="web"):
    return services.federated_resource_create(actor=Actor.for_user(personas["developer"]),
                                              environment=topo["prod"], ftype=ftypes["Deployment"],
                                              name=name, template=deployment(name, replicas=2))


def _live_requests(page, path):
    """Requests of live refreshes to `path` (marked by live.js), as they happen."""
    seen = []
    page.on("request", lambda req: req.url.split("?")[0].endswith(path)
            and req.headers.get("x-live-refresh") == "1" and seen.append(req.url))
    return seen


def test_list_gains_a_row_and_toast_says_who_did_it(b, personas_e2e, topology, ftypes):  # noqa: F811
    page = b.new_page(personas_e2e["viewer"])
    b.goto(page, LIST)
    b.socket_frames(page)
    region = page.locator("#live-federation-list")
    expect(region).not_to_contain_text("shop")

    resource = _create(personas_e2e, ftypes, topology, name="shop")

    expect(region.get_by_role("link", name="shop")).to_be_visible(timeout=EVENT_WAIT)
    who = emit.actor_name(Actor.for_user(personas_e2e["developer"]))
    toast = page.locator("#toast-area .toast", has_text=f"{who} created federated Deployment shop in acme/prod")
    expect(toast).to_contain_text("Federated resource created")  # the title says what happened
    expect(toast).to_be_visible()
    expect(toast.get_by_role("link", name="Open")).to_have_attribute("href", resource.get_absolute_url())
    assert page.url.endswith(LIST)  # no reload, no navigation
    b.check(page)
    b.screenshots("live-list-toast")


def test_detail_badge_follows_the_status_without_polling(b, personas_e2e, topology, ftypes):  # noqa: F811
    resource = _create(personas_e2e, ftypes, topology)
    page = b.new_page(personas_e2e["viewer"])
    polls = _live_requests(page, f"/{resource.pk}/status/")
    b.goto(page, resource.get_absolute_url())
    b.socket_frames(page)
    badge = page.locator("#live-resource-badge")
    expect(badge).to_contain_text("Syncing")
    page.wait_for_timeout(4_000)
    assert polls == []  # nothing happened, nothing was fetched (it polled every 3 s before)

    converge()
    status.aggregate_pending()  # the totals change: one federation.synced event for acme

    expect(badge).to_contain_text("Synced", timeout=EVENT_WAIT)
    expect(page.locator("#federation-status")).to_contain_text("applied", ignore_case=True)
    assert 1 <= len(polls) <= 2
    assert page.locator("#toast-area .toast", has_text="synced").count() == 0  # background work: no toast


def test_a_burst_of_events_costs_at_most_two_requests(b, personas_e2e, topology, ftypes):  # noqa: F811
    page = b.new_page(personas_e2e["viewer"])
    refreshes = _live_requests(page, LIST)
    b.goto(page, LIST)
    b.socket_frames(page)

    # Events of no interest to the list: nothing is fetched.
    page.evaluate("""() => { for (let i = 0; i < 5; i++) document.body.dispatchEvent(
        new CustomEvent("paas:event", {detail: {type: "member.added", user: "x" + i}})); }""")
    # A 100-cluster status recompute arriving as ten events.
    page.evaluate("""() => { for (let i = 0; i < 10; i++) document.body.dispatchEvent(
        new CustomEvent("paas:event", {detail: {type: "federation.synced", resources: [i], count: 1}})); }""")
    expect(page.locator("#live-federation-list")).to_be_attached()
    page.wait_for_timeout(2_500)
    assert 1 <= len(refreshes) <= 2, refreshes


def test_lost_connection_is_shown_and_the_page_catches_up(b, personas_e2e, topology, ftypes):  # noqa: F811
    page = b.new_page(personas_e2e["viewer"])
    offline = {"now": False}
    routes = []

    def route(ws):
        if offline["now"]:
            ws.close(code=1006)
            return
        routes.append(ws)
        ws.connect_to_server()

    page.route_web_socket("**/ws/notifications/", route)
    b.goto(page, LIST)
    b.socket_frames(page)
    indicator = page.locator("#live-connection")
    expect(indicator).to_be_hidden()

    offline["now"] = True
    routes[-1].close(code=1006)  # the network drops the connection
    expect(indicator).to_be_visible()
    expect(indicator).to_have_text(re.compile("Live updates paused - reconnecting"))
    expect(indicator).to_have_attribute("role", "status")

    _create(personas_e2e, ftypes, topology, name="missed")  # happens while the page is offline
    page.wait_for_timeout(1_500)
    expect(page.locator("#live-federation-list")).not_to_contain_text("missed")
    b.screenshots("live-reconnecting")

    offline["now"] = False
    expect(indicator).to_be_hidden(timeout=EVENT_WAIT)
    expect(page.locator("#live-federation-list").get_by_role("link", name="missed")).to_be_visible(
        timeout=EVENT_WAIT)


def test_audit_trail_shows_new_events_or_counts_them(b, personas_e2e, tenant):
    first = b.new_page(personas_e2e["auditor"])
    b.goto(first, "/audit/")
    filtered = b.new_page(storage_state=first.context.storage_state())
    b.goto(filtered, "/audit/?outcome=denied")
    b.socket_frames(first)
    b.socket_frames(filtered)
    bar = filtered.locator("#live-audit-new")
    expect(bar).to_be_hidden()

    services_tenants.environment_create(actor=Actor.for_user(personas_e2e["owner"]), tenant=tenant,
                                        name="Perf", slug="perf", kind="test")

    # Page one, no filter: the new event is at the top of the table.
    expect(first.locator("#live-audit tbody tr").nth(1)).to_contain_text("tenant.environment.create",
                                                                          timeout=EVENT_WAIT)  # under its quota
    # A filtered view keeps what the user is reading and offers the news instead.
    expect(bar).to_be_visible(timeout=EVENT_WAIT)
    expect(bar).to_contain_text("1 new event")
    expect(filtered.locator("table tbody")).not_to_contain_text("tenant.environment.create")
    bar.get_by_role("link", name="Show").click()
    filtered.wait_for_url("**/audit/?outcome=denied")
    b.check(filtered)
