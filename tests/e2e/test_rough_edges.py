"""Rough edges of issue 9 as a person meets them: the federated types page fits 1440 px,
a GET on a POST-only URL is a page leading back to the form, audit actions read as words,
and the menu offers only what the role can open."""
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from clusters.federation.models import FederatedType

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
SHOTS = Path(os.environ.get("PAAS_SHOTS_DIR", "/tmp/shots9/rough"))  # noqa: S108 - screenshots for people


def _shot(page, name, full_page=True):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _chinese(page, b):
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": b.base_url}])


def test_federated_types_fit_1440_pixels(b, personas_e2e):
    FederatedType.objects.get_or_create(group="apps", kind="Deployment", defaults={
        "version": "v1", "plural": "deployments", "replicas_path": "spec.replicas",
        "status_fields": ["readyReplicas", "availableReplicas", "updatedReplicas", "observedGeneration"]})
    FederatedType.objects.create(
        group="monitoring.platform-observability.example.com", version="v1beta1", kind="PrometheusRuleGroupBinding",
        plural="prometheusrulegroupbindings", source=FederatedType.Source.CRD, registered_from="cluster-east-1a-01",
        status_fields=["conditions", "observedGeneration", "lastEvaluationTimestampForTheWholeGroup"],
        sensitive_paths=["spec.alertmanagerConfig.receivers[*].webhookUrlWithEmbeddedCredentials"])
    page = b.new_page(personas_e2e["superuser"])
    page.set_viewport_size({"width": 1440, "height": 900})
    b.goto(page, "/federation/-/types/")
    expect(page.locator("table")).to_contain_text("PrometheusRuleGroupBinding")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    table_overflow = page.evaluate(
        "(() => { const w = document.querySelector('.types-table').parentElement;"
        " return w.scrollWidth - w.clientWidth; })()")
    assert table_overflow <= 0, f"the table scrolls sideways by {table_overflow}px"
    _shot(page, "federated-types-1440-en")


def test_a_get_on_a_post_only_url_leads_back_to_the_form(b, personas_e2e):
    page = b.new_page(personas_e2e["owner"])
    response = page.goto("/tenants/acme/members/invite/")
    assert response.status == 405
    b.check(page)
    expect(page.locator("h1")).to_have_text("This action needs its form")
    _shot(page, "not-allowed-405-en")
    page.get_by_role("link", name="Back to the form").click()
    page.wait_for_url(b.url("/tenants/acme/members/"))
    b.check(page)
    _chinese(page, b)
    page.goto("/clusters/-/bindings/add/")
    _shot(page, "not-allowed-405-zh-hans")
    # Chromium logs every 4xx document as a console error: expected here, nothing else may be.
    b.problems[:] = [p for p in b.problems if "status of 405" not in p]


def test_audit_actions_read_as_words_and_the_menu_fits_the_role(b, personas_e2e, tenant):
    from paas.actors import Actor
    from paas.audit.services import audit_record

    audit_record(actor=Actor.for_user(personas_e2e["owner"]), action="tenant.update", target=tenant,
                 before={"description": ""}, after={"description": "Cards"})
    auditor = b.new_page(personas_e2e["auditor"])
    b.goto(auditor, "/audit/")
    expect(auditor.locator("table")).to_contain_text("Tenant changed")
    expect(auditor.locator(".portal-sidebar")).to_contain_text("Audit trail")
    _shot(auditor, "audit-labels-en")
    _chinese(auditor, b)
    b.goto(auditor, "/audit/")
    _shot(auditor, "audit-labels-zh-hans")

    developer = b.new_page(personas_e2e["developer"])
    expect(developer.locator(".portal-sidebar")).not_to_contain_text("Audit trail")
    expect(developer.locator(".portal-sidebar a", has_text="Federation")).to_have_attribute(
        "href", "/federation/acme/")
    _shot(developer, "menu-developer-en", full_page=False)
