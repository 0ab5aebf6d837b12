"""A tenant owner in the browser: environments, members (inline htmx role changes) and
API tokens, each checked the way a person would see it."""
import json
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tenants.models import ApiToken, Environment, Membership

from ..factories import UserFactory

# One xdist worker runs all browser tests: one daphne and one Chromium instead of one per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def _confirm(page, button_label: str):
    """Click OK in the portal's confirmation dialog."""
    dialog = page.locator("#confirmModal")
    expect(dialog).to_be_visible()
    ok = dialog.locator("[data-confirm-ok]")
    expect(ok).to_have_text(button_label)
    ok.click()


def _call_me(base_url: str, plaintext: str) -> tuple[int, dict]:
    req = urllib.request.Request(f"{base_url}/api/v1/me/",  # noqa: S310
                                 headers={"Authorization": f"Bearer {plaintext}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_owner_creates_and_deletes_an_environment(b, personas_e2e, tenant):
    page = b.new_page(personas_e2e["owner"])

    card = page.locator(".tenant-card", has_text="Acme Payments")
    expect(card).to_be_visible()
    expect(card).to_contain_text("acme")
    expect(page.locator(".tenant-card", has_text="Globex")).to_have_count(0)

    card.get_by_role("link", name="Acme Payments").click()
    page.wait_for_url(b.url("/tenants/acme/"))
    b.check(page)
    expect(page.locator("h1")).to_contain_text("Acme Payments")

    page.get_by_role("link", name="New environment").click()
    b.check(page)
    page.fill("#id_name", "qa")
    expect(page.locator("#id_slug")).to_have_value("qa")  # suggested from the name by portal.js
    page.select_option("#id_kind", "test")
    page.get_by_role("button", name="Create environment").click()
    page.wait_for_url(b.url("/tenants/acme/"))
    b.check(page)
    expect(page.locator(".portal-messages .alert-success")).to_contain_text("“qa” was created")
    row = page.locator("#environments tbody tr", has=page.locator("code", has_text="qa"))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("qa")
    assert Environment.objects.filter(tenant=tenant, slug="qa").exists()

    row.get_by_role("button", name="Delete").click()
    expect(page.locator("#confirmModal [data-confirm-body]")).to_contain_text("“qa”")
    _confirm(page, "Delete")
    expect(page.locator(".portal-messages .alert-success")).to_contain_text("“qa” was deleted")
    b.check(page)
    expect(page.locator("#environments tbody tr", has=page.locator("code", has_text="qa"))).to_have_count(0)
    assert not Environment.objects.filter(tenant=tenant, slug="qa").exists()


def test_owner_invites_changes_role_inline_and_cannot_remove_last_owner(b, personas_e2e, tenant):
    UserFactory(username="newbie")
    page = b.new_page(personas_e2e["owner"])
    b.goto(page, "/tenants/acme/members/")

    invite = page.locator("#invite")
    invite.locator("#id_user").fill("newbie")
    invite.locator("#id_role").select_option("viewer")
    invite.get_by_role("button", name="Add member").click()
    # The same neutral answer whether or not the account exists (no account enumeration).
    expect(page.locator(".portal-messages .alert-success")).to_contain_text(
        "If an active account 'newbie' exists, it now has the role Viewer")
    b.check(page)
    row = page.locator("#members-table tbody tr", has_text="newbie@example.com")
    expect(row).to_have_count(1)
    row_id = row.get_attribute("id")

    # Inline change: htmx swaps the row; the page itself must not reload.
    page.evaluate("window.__stillSamePage = true")
    page.locator(f"#{row_id} select[name=role]").select_option("developer")
    saved = page.locator(f"#{row_id} [aria-label='Saved']")
    expect(saved).to_be_visible()
    expect(page.locator(f"#{row_id} select[name=role]")).to_have_value("developer")
    assert page.evaluate("window.__stillSamePage === true"), "the role change reloaded the whole page"
    assert Membership.objects.get(tenant=tenant, user__username="newbie").role == "developer"

    # The only owner cannot demote themselves inline ...
    own = page.locator("#members-table tbody tr", has=page.locator(".badge", has_text="you"))
    own_id = own.get_attribute("id")
    page.locator(f"#{own_id} select[name=role]").select_option("admin")
    expect(page.locator(f"#{own_id} [role=alert]")).to_contain_text("at least one owner")
    assert page.evaluate("window.__stillSamePage === true")

    # ... nor remove themselves.
    page.locator(f"#{own_id}").get_by_role("button", name="Remove").click()
    _confirm(page, "Remove")
    expect(page.locator(".portal-messages .alert-danger")).to_contain_text("The last owner cannot be removed")
    b.check(page)
    owner = personas_e2e["owner"]
    assert Membership.objects.get(tenant=tenant, user=owner).role == "owner"
    expect(page.locator(f"#{own_id} select[name=role]")).to_have_value("owner")


def test_read_only_token_shown_once_works_until_revoked(b, personas_e2e, tenant):
    page = b.new_page(personas_e2e["owner"])
    b.goto(page, "/tenants/acme/tokens/")
    page.get_by_role("link", name="New token").first.click()
    b.check(page)
    page.fill("#id_name", "monitoring")
    page.check("input[name=scope][value=read]")
    page.fill("#id_expires_in_days", "7")
    page.get_by_role("button", name="Create token").click()
    b.check(page)

    secret = page.locator("#token-secret")
    expect(secret).to_be_visible()
    plaintext = secret.input_value()
    assert plaintext.startswith("paas_"), plaintext
    token = ApiToken.objects.get(tenant=tenant, name="monitoring")
    assert token.scope == ApiToken.Scope.READ

    status, body = _call_me(b.base_url, plaintext)
    assert status == 200, body
    assert body["username"] == "owner"

    page.get_by_role("link", name="I have copied it").click()
    page.wait_for_url(b.url("/tenants/acme/tokens/"))
    b.check(page)
    assert plaintext not in page.content(), "the token secret is shown again"
    row = page.locator("tbody tr", has_text="monitoring")
    expect(row).to_contain_text(f"paas_{token.prefix}_")
    row.get_by_role("button", name="Revoke").click()
    _confirm(page, "Revoke")
    expect(page.locator(".portal-messages .alert-success")).to_contain_text("“monitoring”")
    b.check(page)
    expect(page.locator("tbody tr", has_text="monitoring").get_by_role("button", name="Revoke")).to_have_count(0)

    status, body = _call_me(b.base_url, plaintext)
    assert status == 401, body
