"""Ctrl-K search in the browser: the shortcut focuses the navbar box, hits come grouped
by kind and only from what the person may see, arrow keys and Enter open one, and
Enter without a selection opens the full search page."""
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from clusters.federation.models import FederatedResource, FederatedType
from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
SHOTS = Path(os.environ.get("PAAS_SHOTS_DIR", "/tmp/shots9/rough"))  # noqa: S108 - screenshots for people


@pytest.fixture
def orion(personas_e2e, tenant, other_tenant):
    region = Region.objects.create(name="Orion region", slug="orion")
    zone = Zone.objects.create(region=region, name="Orion zone", slug="orion-z")
    # Built in by a data migration, which the flush after a transactional test removes.
    deployment, _ = FederatedType.objects.get_or_create(
        group="apps", kind="Deployment", defaults={"version": "v1", "plural": "deployments"})
    for i, (t, env, name) in enumerate(((tenant, "prod", "orion-web"), (other_tenant, "dev", "orion-secret")), 1):
        cell = Cell.objects.create(zone=zone, name=f"Orion cell {i}", slug=f"orion-c{i}")
        Cluster.objects.create(cell=cell, name=f"Orion {i}", slug=f"orion-{i}", server="https://sim", credentials=b"")
        environment = t.environments.get(slug=env)
        EnvironmentBinding.objects.create(environment=environment, cell=cell)
        FederatedResource.objects.create(tenant=t, environment=environment, ftype=deployment, name=name,
                                         template={"metadata": {"name": name}})
    return personas_e2e


def _shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_ctrl_k_finds_only_what_the_viewer_may_see_and_opens_it(b, orion):
    page = b.new_page(orion["viewer"])
    box = page.locator("#global-search-input")
    expect(box).not_to_be_focused()
    page.keyboard.press("Control+k")
    expect(box).to_be_focused()
    page.keyboard.type("orion")
    results = page.locator("#global-search-results")
    expect(results).to_be_visible()
    expect(results.locator(".dropdown-header")).to_have_text(["Federated resources", "Clusters"])
    expect(results).to_contain_text("orion-web")
    expect(results).to_contain_text("Orion 1")
    expect(results).not_to_contain_text("orion-secret")  # globex's
    expect(results).not_to_contain_text("Orion 2")
    _shot(page, "search-ctrl-k-en")

    page.keyboard.press("ArrowDown")
    expect(results.locator("[role=option].active")).to_contain_text("orion-web")
    expect(box).to_have_attribute("aria-activedescendant", "global-search-option-0")
    page.keyboard.press("Enter")
    page.wait_for_url("**/federation/acme/prod/*/")
    b.check(page)
    expect(page.locator("h1")).to_contain_text("orion-web")

    page.keyboard.press("Meta+k")  # the Mac shortcut works too
    expect(box).to_be_focused()
    page.keyboard.type("orion")
    expect(results).to_contain_text("orion-web")
    page.keyboard.press("Escape")
    expect(results).to_be_hidden()
    page.keyboard.press("Enter")  # nothing selected: the full page
    page.wait_for_url("**/search/?q=orion")
    b.check(page)
    expect(page.locator("main")).to_contain_text("orion-web")
    _shot(page, "search-page-en")


def test_search_in_chinese_and_nothing_found(b, orion):
    page = b.new_page(orion["outsider"])
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": b.base_url}])
    b.goto(page, "/")
    page.keyboard.press("Control+k")
    page.keyboard.type("acme")
    results = page.locator("#global-search-results")
    expect(results).to_be_visible()
    expect(results.locator("[role=option]")).to_have_count(1)  # only "all results"
    expect(results).not_to_contain_text("Acme Payments")
    _shot(page, "search-nothing-zh-hans")
    b.goto(page, "/search/?q=orion")
    expect(page.locator("main")).to_contain_text("orion-secret")
    expect(page.locator("main")).not_to_contain_text("orion-web")
    _shot(page, "search-page-zh-hans")
