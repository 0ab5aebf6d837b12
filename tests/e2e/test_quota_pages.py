"""Quota pages in the browser: the owner asks for more on the quotas page, the operator
approves from the queue, and the owner sees the outcome and the new limit; usage bars
and charts from real (simulated) member clusters, the form's warning before a change
would exceed the quota, and the operators' dashboard."""
import importlib
from pathlib import Path

import pytest
from playwright.sync_api import expect

from clusters.federation import services as federation_services
from clusters.federation.tasks import collect_status
from clusters.models import Cluster
from tenants import services as tenant_services

from ..federation import conftest as fed
from ..federation.conftest import SYSTEM, converge, deployment, wait_for
from ..federation.test_quota_usage import YAML_5

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


# --- usage against the quota, the change warning, the operators' dashboard ------------------
# A real simulator with three member clusters: the federation tests' fixtures.
fedsim, topology = fed.fedsim, fed.topology


@pytest.fixture
def ftypes(transactional_db):
    """The built-in federated types: seeded by a data migration, which a flush between
    transactional tests removes, so they are seeded again here the way the migration does."""
    from django.apps import apps

    from clusters.federation.models import FederatedType

    importlib.import_module("clusters.federation.migrations.0002_builtin_types").seed(apps, None)
    return {t.kind: t for t in FederatedType.objects.all()}

SHOTS = Path("/tmp/shots9/quota")
# Runs before any page script: CSP violations the page meets (the driver's script is not subject to it).
RECORD_CSP = """window.__csp = []; document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.effectiveDirective} ${e.blockedURI || "inline"}`));"""


def _usage_reported(topo, ftypes_, *, pods_quota, replicas):
    tenant_services.quota_update(actor=SYSTEM, quota=topo["prod"].quota, pods=pods_quota)
    resource = federation_services.federated_resource_create(
        actor=SYSTEM, environment=topo["prod"], ftype=ftypes_["Deployment"], name="web",
        template=deployment("web", replicas=replicas))
    converge()
    from clusters.federation.models import MemberNamespace

    def reported():
        for cluster in Cluster.objects.all():
            collect_status.run(cluster.pk)
        members = MemberNamespace.objects.filter(environment=topo["prod"])
        return all(m.quota_status.get("used", {}).get("pods") == str(min(pods_quota, replicas)) for m in members)

    wait_for(reported, timeout=15, message="quota usage reported")
    return resource


def _page(b, user, lang="en"):
    page = b.new_page(user)
    page.context.add_init_script(RECORD_CSP)
    if lang != "en":
        page.context.add_cookies([{"name": "django_language", "value": lang, "url": b.base_url}])
    return page


def _shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _charts_drawn(page, selector, count):
    """`count` ECharts charts under `selector`, each drawn on a canvas that is not blank."""
    charts = page.locator(f"{selector} [data-chart-ready] canvas")
    expect(charts).to_have_count(count, timeout=15_000)
    assert page.evaluate("""(sel) => [...document.querySelectorAll(sel + ' [data-chart-ready] canvas')].every(c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false; })""", selector)


def test_quota_usage_bars_and_charts_in_both_languages(b, personas_e2e, tenant, topology, ftypes):
    _usage_reported(topology, ftypes, pods_quota=1, replicas=2)
    for lang in ("en", "zh-hans"):
        page = _page(b, personas_e2e["viewer"], lang)
        b.goto(page, "/tenants/acme/quotas/")
        cluster = page.locator("#quota-usage [data-quota-cluster='fed-a1']").first
        pods = cluster.locator("[data-quota-limit='pods'] .progress-stacked .progress").first
        assert pods.evaluate("e => e.style.width") == "100%"  # 1 of 1 pod used: a full, red bar
        assert cluster.locator("[data-quota-limit='pods'] .progress-bar").first.evaluate(
            "e => e.classList.contains('bg-danger')")
        assert cluster.locator("[data-quota-limit='pods'] .progress").first.bounding_box()["width"] > 50
        _charts_drawn(page, "#quota-usage", 1)  # one chart per environment with clusters (prod)
        assert page.evaluate("document.documentElement.lang") == lang
        if lang == "en":
            expect(cluster).to_contain_text("used 1 · requested 2 · left 0")
        _shot(page, f"quotas-{lang}")
        b.goto(page, "/federation/acme/prod/")
        expect(page.locator("#quota-usage [data-quota-cluster]")).to_have_count(3)
        _charts_drawn(page, "#quota-usage", 1)
        _shot(page, f"environment-{lang}")
        assert page.evaluate("window.__csp") == []


def test_form_warns_before_the_quota_would_be_exceeded(b, personas_e2e, tenant, topology, ftypes):
    resource = _usage_reported(topology, ftypes, pods_quota=3, replicas=2)
    page = _page(b, personas_e2e["developer"])
    b.goto(page, f"/federation/acme/prod/{resource.pk}/edit/")
    expect(page.locator("#quota-impact [data-quota-exceeds]")).to_have_count(0)
    # The template is edited in the code editor (static/js/editor.js), as a user types into it.
    expect(page.locator("body[data-editors-ready=true]")).to_have_count(1)
    page.evaluate("""(text) => { const view = window.paasEditors.get('template');
        view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: text}}); }""", YAML_5)
    warning = page.locator("#quota-impact [data-quota-exceeds]")
    expect(warning).to_contain_text("This change needs 3 more pods in cluster fed-a1; 1 pod is left in acme/prod "
                                    "(quota 3).")
    _shot(page, "form-warning-en")
    page.get_by_role("button", name="Preview changes").click()
    page.wait_for_url(f"**/{resource.pk}/preview/")
    expect(page.locator("#quota-impact [data-quota-exceeds]")).to_contain_text("3 more pods in cluster fed-b1")
    _shot(page, "preview-warning-en")
    assert page.evaluate("window.__csp") == []


def _share_allocatable_with_the_server(request):
    """The nodes' capacity is kept in the cache; the collection ran in this process (its own
    cache), so hand the figures to the server's Redis the way the server would read them."""
    from django.conf import settings
    from django.core.cache.backends.redis import RedisCache

    from clusters.federation import quota_usage

    ids = list(Cluster.objects.values_list("pk", flat=True))
    found = quota_usage.allocatable(ids)
    assert len(found) == 3 and all(v["pods"] == 220 for v in found.values())  # 2 nodes x 110 pods
    server_cache = RedisCache(settings.REDIS_URL or request.getfixturevalue("redis_url"), {})
    for pk, value in found.items():
        server_cache.set(quota_usage.ALLOCATABLE_KEY.format(pk), value, 600)


def test_operators_dashboard(request, b, personas_e2e, tenant, topology, ftypes):
    from django.contrib.auth.models import Permission

    from clusters.federation.models import FederatedResource, Propagation

    resource = _usage_reported(topology, ftypes, pods_quota=1, replicas=2)
    FederatedResource.objects.filter(pk=resource.pk).update(status={
        **resource.status, "health": {"state": "degraded", "reason": "3 of 6 pods refused by the quota"},
        "clusters": {"fed-a1": {"health": {"state": "degraded", "reason": "quota"}}}})
    Propagation.objects.filter(resource=resource, cluster__slug="fed-b1").update(
        state="error", error="409 Conflict: the object was changed by someone else")
    Cluster.objects.filter(slug="fed-a2").update(health=Cluster.Health.HEALTHY)
    _share_allocatable_with_the_server(request)
    operator = personas_e2e["operator"]
    operator.user_permissions.add(Permission.objects.get(content_type__app_label="clusters", codename="view_cluster"))
    for lang in ("en", "zh-hans"):
        page = _page(b, operator, lang)
        b.goto(page, "/")
        page.locator(".sidebar-nav a[href='/ops/']").click()
        page.wait_for_url("**/ops/")
        b.check(page)
        _charts_drawn(page, "main", 2)  # the topology treemap and the capacity bars
        expect(page.locator("#ops-failed-propagations")).to_contain_text("409 Conflict")
        expect(page.locator("tr[data-ops-cluster='fed-a1']")).to_contain_text("1 / 220")  # pods of the nodes
        expect(page.locator("#ops-unhealthy a", has_text="Deployment/web")).to_have_attribute(
            "href", resource.get_absolute_url())
        _shot(page, f"ops-{lang}")
        assert page.evaluate("window.__csp") == []
    developer = _page(b, personas_e2e["developer"])
    b.goto(developer, "/")
    expect(developer.locator(".sidebar-nav a[href='/ops/']")).to_have_count(0)
