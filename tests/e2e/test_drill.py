"""Workload drill-down in the browser: from the detail page to a cluster's pods, its
events, a pod's log and a followed log; a hung member cluster shown in words."""
import importlib
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from clusters.federation import drilldown, services
from clusters.federation.models import FederatedType
from paas.audit.models import AuditEvent
from tests.federation.conftest import (  # noqa: F401
    SYSTEM,
    converge,
    deployment,
    fedsim,
    sim_admin,
    topology,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
SHOTS = Path("/tmp/shots9/drill")


def _deployment_type():
    # transactional_db empties every table after a test: the migration's seeded types go too.
    seeded = importlib.import_module("clusters.federation.migrations.0002_builtin_types").BUILTIN[0]
    ftype, _created = FederatedType.objects.get_or_create(group="apps", kind="Deployment", defaults=seeded)
    return ftype


def _web(topology, replicas=3):  # noqa: F811
    resource = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                                  ftype=_deployment_type(), name="web",
                                                  template=deployment("web", replicas=replicas))
    converge()
    target = drilldown.target_for(resource, "fed-a1")
    rows = wait_for(lambda: (r := drilldown.pods(target)) and all(p["ready"] == 1 for p in r) and r,
                    timeout=15, message="running pods")
    return resource, rows


def _shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_pods_events_and_a_log_from_the_detail_page(b, personas_e2e, topology):  # noqa: F811
    resource, pods = _web(topology)
    page = b.new_page(personas_e2e["developer"])
    b.goto(page, resource.get_absolute_url())
    page.locator("a[href$='/clusters/fed-a1/']").click()
    b.check(page)
    rows = page.locator("table.drill-pods tbody tr")
    expect(rows).to_have_count(len(pods))
    expect(rows.first).to_contain_text("nginx:1.25")
    expect(rows.first).to_contain_text("Running")
    _shot(page, "pods-en")

    page.get_by_role("link", name="Events").click()
    b.check(page)
    expect(page.locator("#drill-events .card-header")).to_be_visible()
    expect(page.locator("#drill-events .drill-loading")).to_have_count(0)
    _shot(page, "events-en")

    page.get_by_role("link", name="Pods", exact=True).click()
    b.check(page)
    page.locator("table.drill-pods tbody tr").first.get_by_role("link", name="Logs").click()
    b.check(page)
    output = page.locator("#drill-log-output")
    status = page.locator("#drill-log-status")
    expect(status).to_contain_text(pods[0]["name"])  # the chosen pod's log is shown at once
    expect(output).not_to_be_empty()
    expect(page.locator("#drill-download")).to_have_attribute("href", re.compile(f"pod={pods[0]['name']}"))
    with page.expect_download() as download:
        page.locator("#drill-download").click()
    assert download.value.suggested_filename == f"fed-a1_{pods[0]['name']}_main.log"
    with page.expect_response(lambda r: "/logs/follow/" in r.url) as followed:
        page.get_by_role("button", name="Follow").click()
    assert followed.value.status == 200 and followed.value.headers["content-type"].startswith("text/plain")
    expect(output).not_to_be_empty()
    modes = set(AuditEvent.objects.filter(action__startswith="federation.logs.").values_list("action", flat=True))
    assert modes == {"federation.logs.view", "federation.logs.download", "federation.logs.follow"}
    _shot(page, "logs-en")
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": b.base_url}])
    for tab in ("", "events/", "logs/"):
        b.goto(page, f"/federation/acme/prod/{resource.pk}/clusters/fed-a1/{tab}")
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        page.wait_for_load_state("networkidle")
        _shot(page, f"{tab.rstrip('/') or 'pods'}-zh-hans")


def test_a_followed_log_receives_new_lines(b, personas_e2e, topology):  # noqa: F811
    resource, pods = _web(topology, replicas=1)
    page = b.new_page(personas_e2e["developer"])
    b.goto(page, f"/federation/acme/prod/{resource.pk}/clusters/fed-a1/logs/?pod={pods[0]['name']}")
    output = page.locator("#drill-log-output")
    expect(output).not_to_be_empty()
    page.get_by_role("button", name="Follow").click()
    expect(output).to_have_attribute("data-following", "true")
    first = output.text_content().count("\n")
    page.wait_for_function("n => document.getElementById('drill-log-output').textContent.split('\\n').length > n + 1",
                           arg=first + 1, timeout=15_000)
    expect(page.get_by_role("button", name="Stop")).to_be_visible()  # still following
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("button", name="Follow")).to_be_visible()


def test_a_hung_cluster_is_said_in_words(b, personas_e2e, topology):  # noqa: F811
    resource, _pods = _web(topology, replicas=3)
    sim_admin(topology["server"], "fed-a1", {"latency_ms": 10_000})
    page = b.new_page(personas_e2e["viewer"])
    b.goto(page, f"/federation/acme/prod/{resource.pk}/clusters/fed-a1/")
    expect(page.locator("#drill-pods")).to_contain_text("Cluster fed-a1 did not answer in 3 s.", timeout=8_000)
    _shot(page, "hung-en")
    expect(page.get_by_role("link", name="Logs")).to_have_count(0)  # a viewer reads no logs


def test_a_crash_loop_shows_its_warning_events(b, personas_e2e, topology):  # noqa: F811
    resource = services.federated_resource_create(
        actor=SYSTEM, environment=topology["prod"], ftype=_deployment_type(), name="crashy",
        template=deployment("crashy", replicas=1, image="busybox:crashloop"))
    converge()
    cluster = next(r.cluster.slug for r in resource.propagations.all() if r.planned_replicas)
    target = drilldown.target_for(resource, cluster)
    wait_for(lambda: [e for e in drilldown.events(target) if e["reason"] == "BackOff"], timeout=20,
             message="a BackOff event")
    page = b.new_page(personas_e2e["developer"])
    b.goto(page, f"/federation/acme/prod/{resource.pk}/clusters/{cluster}/")
    expect(page.locator("table.drill-pods tbody tr").first).to_contain_text("CrashLoopBackOff")
    _shot(page, "pods-crashloop-en")
    page.get_by_role("link", name="Events").click()
    warning = page.locator("tr.drill-warning", has_text="BackOff").first
    expect(warning).to_contain_text("Warning")
    _shot(page, "events-crashloop-en")
