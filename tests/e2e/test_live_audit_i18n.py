"""Live notifications, the audit trail, the language switch and an accessibility smoke
pass, in the browser against the real server."""
import csv

import pytest
from django.utils import translation
from playwright.sync_api import expect

from paas.actors import Actor
from paas.audit.export import FIELDS
from paas.audit.models import AuditEvent
from tenants import services

# One xdist worker runs all browser tests: one daphne and one Chromium instead of one per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_tenant_change_notifies_members_live_and_not_outsiders(b, personas_e2e, tenant, other_tenant):
    owner_page = b.new_page(personas_e2e["owner"])
    outsider_page = b.new_page(personas_e2e["outsider"])
    hello = [f for f in b.socket_frames(owner_page) if f.get("type") == "hello"][-1]
    assert f"tenant.{tenant.pk}" in hello["streams"]
    hello = [f for f in b.socket_frames(outsider_page) if f.get("type") == "hello"][-1]
    assert f"tenant.{tenant.pk}" not in hello["streams"]

    # The owner, in another tab of the same session, edits acme's description.
    editor = b.new_page(storage_state=owner_page.context.storage_state())
    b.goto(editor, "/tenants/acme/edit/")
    editor.fill("#id_description", "Card payments for Acme retail")
    editor.get_by_role("button", name="Save changes").click()
    expect(editor.locator(".portal-messages .alert-success")).to_contain_text("Tenant details saved")
    b.check(editor)

    toast = owner_page.locator("#toast-area .toast", has_text="Tenant updated")
    expect(toast).to_be_visible(timeout=10_000)
    expect(toast).to_contain_text("acme")

    outsider_page.wait_for_timeout(2_000)
    expect(outsider_page.locator("#toast-area .toast")).to_have_count(0)
    expect(outsider_page.locator("#toast-area")).to_be_empty()
    leaked = [f for f in b.socket_frames(outsider_page) if f.get("type") not in ("hello", "pong")]
    assert leaked == [], f"the outsider received {leaked}"


def test_auditor_filters_the_trail_and_exports_csv(b, personas_e2e, tenant, other_tenant):
    services.environment_create(actor=Actor.for_user(personas_e2e["owner"]), tenant=tenant,
                                name="Perf", slug="perf", kind="test")
    expected = set(AuditEvent.objects.filter(tenant_id=tenant.pk, action__startswith="tenant.environment.")
                   .values_list("pk", flat=True))
    assert len(expected) == 5  # the four standard environments and perf

    page = b.new_page(personas_e2e["auditor"])
    b.goto(page, "/audit/")
    page.fill("#f-action", "tenant.environment")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit/?*action=tenant.environment*")
    b.check(page)

    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(len(expected))
    actions = rows.locator("td:nth-child(4) code").all_inner_texts()
    assert actions and all(a.startswith("tenant.environment.") for a in actions), actions
    assert set(rows.locator("td:nth-child(3)").all_inner_texts()) == {"acme"}  # nothing of globex
    expect(rows.filter(has_text="owner")).to_contain_text("tenant.environment.create")
    expect(page.locator("table tbody")).to_contain_text("acme/perf")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), newline="", encoding="utf-8") as fh:
        records = list(csv.reader(fh))
    assert tuple(records[0]) == FIELDS
    body = [dict(zip(FIELDS, row, strict=True)) for row in records[1:]]
    assert {int(r["id"]) for r in body} == expected
    assert all(r["action"].startswith("tenant.environment.") and r["tenant_slug"] == "acme" for r in body)
    assert any(r["actor_label"] == "owner" and r["target_label"] == "acme/perf" for r in body)


def test_language_switch_to_simplified_chinese(b, personas_e2e, tenant):
    page = b.new_page(personas_e2e["owner"])
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator(".portal-topbar button[title='Language']").click()
    page.locator(".portal-topbar button[name=language][value=zh-hans]").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    b.check(page)

    labels = ["Dashboard", "Tenants", "Audit trail"]
    with translation.override("zh-hans"):
        translated = [str(translation.gettext(label)) for label in labels]
    nav = page.locator(".sidebar-nav")
    for english, chinese in zip(labels, translated, strict=True):
        expect(nav).to_contain_text(chinese)
        if chinese != english:  # the catalogue has it: the English label must be gone
            expect(nav.get_by_role("link", name=english, exact=True)).to_have_count(0)

    # The choice sticks across pages.
    b.goto(page, "/tenants/acme/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")


PAGES = [
    "/", "/tenants/", "/tenants/acme/", "/tenants/acme/edit/", "/tenants/acme/environments/new/",
    "/tenants/acme/environments/dev/edit/", "/tenants/acme/members/", "/tenants/acme/quotas/",
    "/tenants/acme/quotas/dev/request/", "/tenants/acme/tokens/", "/tenants/acme/tokens/new/", "/audit/",
]


def test_every_page_has_a_title_one_heading_and_no_console_errors(b, personas_e2e, tenant):
    anonymous = b.new_page()
    b.goto(anonymous, "/accounts/login/")
    expect(anonymous.locator("html")).to_have_attribute("lang", "en")

    page = b.new_page(personas_e2e["owner"])
    for path in PAGES:
        b.goto(page, path)
    # Sections of later releases, reached from the sidebar, and one audit event's page.
    for name in ("Clusters", "Applications", "Releases"):
        page.locator(".sidebar-nav").get_by_role("link", name=name, exact=True).click()
        b.check(page)
    b.goto(page, "/audit/")
    page.locator("table tbody tr td a").first.click()
    b.check(page)
    # Every page above was checked by b.check; console errors and broken static files
    # fail the test in the `b` fixture's teardown.
    assert b.problems == []
