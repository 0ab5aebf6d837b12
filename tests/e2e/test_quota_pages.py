"""Quota requests in the browser: the owner asks for more on the quotas page, the
operator approves from the queue, and the owner sees the outcome and the new limit."""
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_owner_requests_more_and_the_operator_approves(b, personas_e2e, tenant):
    owner = b.new_page(personas_e2e["owner"])
    b.goto(owner, "/tenants/acme/quotas/")
    row = owner.locator("tbody tr", has=owner.locator("code", has_text="pre"))
    expect(row.get_by_role("link", name="Edit")).to_have_count(0)  # quotas are the platform's
    row.get_by_role("link", name="Request more").click()
    b.check(owner)
    owner.fill("#id_cpu_millicores", "8")
    owner.fill("#id_reason", "Year-end load test")
    owner.get_by_role("button", name="Send request").click()
    owner.wait_for_url(b.url("/tenants/acme/quotas/"))
    b.check(owner)
    expect(owner.locator(".portal-messages .alert-success")).to_contain_text("Request sent")
    expect(owner.get_by_text("Year-end load test")).to_be_visible()

    operator = b.new_page(personas_e2e["operator"])
    b.goto(operator, "/")
    operator.locator(".sidebar-nav").get_by_role("link", name="Quota requests").click()
    b.check(operator)
    expect(operator.locator("tbody tr", has_text="Year-end load test")).to_contain_text("4 cores")
    decision = operator.locator("tr.quota-decision-row")  # the form under the pending request's row
    decision.get_by_label("Comment").fill("Granted until January")
    decision.get_by_role("button", name="Approve").click()
    b.check(operator)
    expect(operator.locator(".portal-messages .alert-success")).to_contain_text("Approved")
    expect(operator.get_by_text("Nothing to decide")).to_be_visible()

    b.goto(owner, "/tenants/acme/quotas/")
    expect(owner.locator("tbody tr", has=owner.locator("code", has_text="pre"))).to_contain_text("8 cores")
    expect(owner.get_by_text("Granted until January")).to_be_visible()
