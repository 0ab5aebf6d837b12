"""The Content-Security-Policy in a real browser: representative pages of every part
of the product raise no CSP violation and still work (htmx, Bootstrap, the live
notification socket, Swagger UI, ReDoc), and ReDoc loads nothing from another host."""
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from ..csp_pages import make_platform, portal_pages
from .conftest import SCREENSHOT_DIR

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

# Runs before any page script; the policy does not apply to it (it is injected by the driver).
_RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(
  `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile || ""}:${e.lineNumber})`));
"""
# The page's stylesheets all loaded and apply rules (a blocked or empty sheet would not).
_STYLED = "[...document.styleSheets].length > 0 && [...document.styleSheets].every(s => s.cssRules.length > 0)"


class Watch:
    """CSP violations seen on a page: its securitypolicyviolation events and the
    browser's "Refused to ..." console errors."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        page.context.add_init_script(_RECORD_VIOLATIONS)
        page.on("console", lambda msg: "Content Security Policy" in msg.text and self.console.append(
            f"{page.url}: {msg.text}"))
        page.on("response", lambda r: r.status >= 400 and self.console.append(f"{r.url} answered {r.status}"))

    def visit(self, path: str):
        response = self.page.goto(path)
        assert response is not None and response.ok, f"{path} answered {response and response.status}"
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
        self.page.wait_for_load_state("load")
        assert self.page.evaluate(_STYLED), f"{path}: a stylesheet did not apply"
        return response

    def assert_clean(self):
        events = self.page.evaluate("window.__csp")
        assert events == [] and self.console == [], (self.page.url, events, self.console)


@pytest.fixture
def platform(transactional_db, tenant):
    return make_platform(tenant)


def test_portal_and_admin_pages_raise_no_csp_violation(b, personas_e2e, tenant, platform):
    page = b.new_page()
    watch = Watch(page)
    b.login(page, personas_e2e["superuser"])
    pages = portal_pages(platform, tenant)
    docs = {name: path for name, path in pages.items() if name.startswith("api-")}
    for name, path in pages.items():
        if name in docs:
            continue
        watch.visit(path)
        if not name.startswith("admin-"):
            b.check(page)  # a title and one <h1>: the page rendered
        page.wait_for_timeout(150)  # late violations (scripts run after load)
        watch.assert_clean()

    # Bootstrap still runs: the user menu opens.
    watch.visit(pages["dashboard"])
    menu = page.locator("#userMenu + .dropdown-menu")
    expect(menu).to_be_hidden()
    page.locator("#userMenu").click()
    expect(menu).to_be_visible()
    # The live notification socket connects (connect-src allows this host's ws:).
    assert any(f.get("type") == "hello" for f in b.socket_frames(page))
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "csp-dashboard.png"), full_page=True)

    # htmx still runs: a live status event makes the federation detail page fetch its status fragment.
    watch.visit(pages["federation-detail"])
    with page.expect_response(lambda r: r.url.endswith("/status/") and r.request.headers.get("hx-request") == "true",
                              timeout=8000) as polled:
        page.evaluate("""id => document.body.dispatchEvent(new CustomEvent("paas:event",
            {detail: {type: "federation.synced", resources: [id], count: 1}}))""", platform["resource"].pk)
    assert polled.value.ok
    # An admin change form's scripts run (its inline-free constants script sets up the form).
    watch.visit(pages["admin-tenant-change"])
    expect(page.locator("#tenant_form")).to_be_visible()
    page.wait_for_timeout(300)
    watch.assert_clean()


def test_api_docs_raise_no_csp_violation_and_redoc_stays_local(b, personas_e2e, tenant):
    page = b.new_page(personas_e2e["viewer"])
    watch = Watch(page)
    origin = urlsplit(b.base_url)
    outside: list[str] = []

    def only_local(route):
        host = urlsplit(route.request.url)
        if host.scheme in ("http", "https", "ws", "wss") and host.netloc != origin.netloc:
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.context.route("**/*", only_local)

    watch.visit("/api/docs/")
    # The schema is large (850 kB with the applications API): on a busy CI machine parsing and laying it
    # out takes longer than expect()'s 5 s default.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("PaaS control plane API", timeout=30000)
    # ".opblock-tag" is the tag heading in every swagger-ui 5 release (".opblock-tag-section" went away).
    expect(page.locator(".opblock-tag").first).to_be_visible(timeout=30000)
    page.wait_for_timeout(300)
    watch.assert_clean()

    # The browsable API (on with DEBUG, as on this server) is styled and raises nothing either.
    response = watch.visit("/api/v1/tenants/")
    if response.headers["content-type"].startswith("text/html"):
        expect(page.locator(".response-info")).to_be_visible()
        page.wait_for_timeout(300)
        watch.assert_clean()

    watch.visit("/api/redoc/")
    expect(page.locator(".api-info h1")).to_contain_text("PaaS control plane API", timeout=30000)
    logo = page.locator("img[alt='redocly logo']")
    if logo.count():  # the sidebar's logo, if shown, is ours and loaded
        assert logo.get_attribute("src").startswith("/static/")
        assert page.evaluate("document.querySelector(\"img[alt='redocly logo']\").naturalWidth") > 0
    # ReDoc's styles are in place (its <style> elements carry the nonce): the menu is laid out as a sidebar.
    assert page.locator(".menu-content").evaluate("e => getComputedStyle(e).position") in ("sticky", "fixed")
    # Its search runs in a blob: Web Worker (worker-src allows blob: on this page only).
    page.locator("input[placeholder='Search...']").fill("tenant")
    expect(page.locator("[data-role='search:results'] li").first).to_be_visible(timeout=30000)
    page.wait_for_timeout(300)
    watch.assert_clean()
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "csp-redoc.png"))
    assert outside == [], f"requests left {origin.netloc}: {outside}"
