"""Content-Security-Policy (paas/csp.py): every HTML page carries a strict policy, and
no template or script puts inline code or style attributes on a page."""
import base64
import hashlib
import re
from pathlib import Path

import pytest
from django.test import Client

from paas.api.docs import _redoc_bundle
from paas.api.renderers import csp_hash

from .csp_pages import make_platform, portal_pages

ROOT = Path(__file__).resolve().parent.parent

# --- the sources -------------------------------------------------------------------

_SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
_STYLE_TAG = re.compile(r"<style\b", re.I)
_STYLE_ATTR = re.compile(r"""\sstyle\s*=\s*["'{]""", re.I)
_HANDLER_ATTR = re.compile(r"""\son[a-z]+\s*=\s*["'{]""", re.I)
_HX_ON = re.compile(r"\shx-on[:-]", re.I)
_JS_URL = re.compile(r"""=\s*["']\s*javascript:""", re.I)


_COMMENTS = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}|<!--.*?-->", re.S)


def inline_code(text: str) -> list[str]:
    """What the policy would block in an HTML text (a template or a page)."""
    text = _COMMENTS.sub("", text)
    problems = []
    for match in _SCRIPT_TAG.finditer(text):
        attrs = match.group(1)
        if not re.search(r"\bsrc\s*=", attrs) and not re.search(r"""\btype\s*=\s*["']application/json""", attrs):
            problems.append(f"inline <script{attrs}>")
    problems += [f"{what}: {m.group(0).strip()}" for what, pattern in
                 (("<style> block", _STYLE_TAG), ("style attribute", _STYLE_ATTR),
                  ("event handler attribute", _HANDLER_ATTR), ("htmx hx-on handler", _HX_ON),
                  ("javascript: URL", _JS_URL))
                 for m in pattern.finditer(text)]
    return problems


def test_the_scanner_finds_each_kind_of_inline_code():
    assert inline_code("{# no <style> here #}<!-- nor <script> here -->") == []
    html = ('<script>alert(1)</script><style>p{}</style><p style="color:red" onclick="x()">'
            '<button hx-on:click="y()"><a href="javascript:void(0)">')
    assert len(inline_code(html)) == 6
    assert inline_code('<script src="/static/a.js" defer></script><script type="application/json" id="d">') == []


def test_templates_have_no_inline_code():
    found = {str(path.relative_to(ROOT)): inline_code(path.read_text())
             for path in sorted((ROOT / "templates").rglob("*.html"))}
    assert {path: problems for path, problems in found.items() if problems} == {}
    assert len(found) > 40


def test_scripts_build_no_html_with_inline_code():
    # Strings of HTML built in static/js land in the page as markup: the same rules apply.
    found = {path.name: [p for p in inline_code(path.read_text()) if "<style" not in p]
             for path in sorted((ROOT / "static" / "js").glob("*.js"))}
    assert {name: problems for name, problems in found.items() if problems} == {}


def test_htmx_is_configured_without_its_style_element_and_eval():
    head = (ROOT / "templates" / "includes" / "head.html").read_text()
    assert '"includeIndicatorStyles": false' in head and '"allowEval": false' in head


def test_redoc_bundle_loads_nothing_from_a_cdn():
    bundle, _ = _redoc_bundle()
    assert b"cdn.redoc.ly" not in bundle
    assert b"/static/img/api-docs-logo.svg" in bundle  # the logo the sidebar shows instead
    # Its <style> elements take the nonce of its own <script> tag, even those made at load time.
    assert bundle.count(b".nc=(document.currentScript||{}).nonce||void 0;") == 1
    assert not bundle.rstrip().endswith(b".map")  # its map is not served at this address


# --- the responses -----------------------------------------------------------------


def policy_of(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} has no Content-Security-Policy"
    return {name: sources for name, *sources in (d.split() for d in header.split(";") if d.strip())}


def assert_strict(response, *, nonce_allowed=False):
    path = response.request["PATH_INFO"]
    policy = policy_of(response)
    for directive in ("script-src", "style-src"):
        sources = policy[directive]
        assert sources[0] == "'self'", (path, directive, sources)
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, (path, sources)
        nonces = [s for s in sources if s.startswith("'nonce-")]
        assert len(nonces) <= (1 if nonce_allowed else 0), (path, directive, sources)
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["connect-src"] == ["'self'", "ws://testserver"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    if response["Content-Type"].startswith("text/html"):
        html = response.content.decode()
        nonce = next((s[7:-1] for s in policy["script-src"] if s.startswith("'nonce-")), None)
        # Whatever a page does carry inline must hold this response's nonce.
        problems = [p for p in inline_code(html) if not (nonce and f'nonce="{nonce}"' in p)]
        assert problems == [], path


@pytest.fixture
def platform(tenant):
    return make_platform(tenant)


def test_every_representative_page_carries_the_policy(personas, login, tenant, platform):
    client = login(personas["superuser"])
    for name, path in portal_pages(platform, tenant).items():
        response = client.get(path)
        assert response.status_code == 200, (name, path, response.status_code)
        assert_strict(response, nonce_allowed=name in ("api-redoc", "dockerfile-editor"))


def test_login_and_error_pages_carry_the_policy(db, personas, login):
    anonymous = Client()
    assert_strict(anonymous.get("/accounts/login/"))
    assert_strict(anonymous.get("/admin/login/"))
    missing = login(personas["viewer"]).get("/tenants/nope/")
    assert missing.status_code == 404 and b"<h1" in missing.content
    assert_strict(missing)


def test_a_forged_host_still_gets_the_policy(db):
    response = Client(HTTP_HOST="evil.example").get("/accounts/login/")
    assert response.status_code == 400
    assert policy_of(response)["connect-src"] == ["'self'"]


def test_csrf_failure_page_is_ours_and_carries_the_policy(db):
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403 and b"The form could not be accepted" in response.content
    assert_strict(response)


@pytest.mark.urls("tests.csp_urls")
def test_server_error_page_carries_the_policy(db):
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500 and b"Something went wrong" in response.content
    assert_strict(response)


@pytest.mark.urls("tests.csp_urls")
def test_browsable_api_allows_only_drf_own_style_attributes(db):
    response = Client().get("/browsable/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    policy = policy_of(response)
    assert policy["script-src"] == ["'self'"] and policy["style-src-attr"][0] == "'unsafe-hashes'"
    html = response.content.decode()
    # The one <style> block (Pygments' colours) is allowed by its hash, nothing else inline.
    blocks = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert policy["style-src"] == ["'self'", *(csp_hash(b) for b in blocks)]
    values = set(re.findall(r'\sstyle="([^"]*)"', html))
    assert values, "DRF's page has style attributes"
    for value in values:
        digest = base64.b64encode(hashlib.sha256(value.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["style-src-attr"], value
    assert [p for p in inline_code(html) if not p.startswith(("style attribute", "<style> block"))] == []


@pytest.mark.urls("tests.csp_urls")
def test_django_debug_pages_go_without_the_policy_other_pages_keep_it(settings, db):
    # The technical 404/500 pages are inline styles and scripts; they exist with DEBUG only.
    settings.DEBUG = True
    response = Client().get("/no-such-page/")
    assert response.status_code == 404 and b"DEBUG = True" in response.content
    assert "Content-Security-Policy" not in response
    assert "Content-Security-Policy" in Client().get("/accounts/login/")


def test_api_json_and_the_swagger_script_carry_the_policy(personas, login):
    client = login(personas["viewer"])
    assert_strict(client.get("/api/v1/me/"))
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


def test_only_a_page_that_uses_the_nonce_names_one_and_it_is_new_each_time(personas, login):
    client = login(personas["viewer"])
    first, second = client.get("/api/redoc/"), client.get("/api/redoc/")
    nonces = []
    for response in (first, second):
        policy = policy_of(response)
        nonce = [s for s in policy["style-src"] if s.startswith("'nonce-")]
        assert len(nonce) == 1 and nonce == [s for s in policy["script-src"] if s.startswith("'nonce-")]
        assert f'nonce="{nonce[0][7:-1]}"'.encode() in response.content
        assert policy["worker-src"] == ["'self'", "blob:"]  # ReDoc's search worker
        nonces.append(nonce[0])
    assert nonces[0] != nonces[1]
    assert "nonce-" not in client.get("/").get("Content-Security-Policy")


def test_redoc_page_and_bundle(personas, login):
    client = login(personas["viewer"])
    page = client.get("/api/redoc/").content.decode()
    assert 'src="/api/redoc/redoc.standalone.js"' in page and 'data-spec-url="/api/schema/"' in page
    bundle = Client().get("/api/redoc/redoc.standalone.js")  # a public library: no sign-in
    assert bundle.status_code == 200 and bundle["Content-Type"].startswith("text/javascript")
    assert b"cdn.redoc.ly" not in b"".join(bundle.streaming_content if bundle.streaming else [bundle.content])
    again = Client().get("/api/redoc/redoc.standalone.js", HTTP_IF_NONE_MATCH=bundle["ETag"])
    assert again.status_code == 304


def test_report_only_mode(settings, db):
    settings.CSP_REPORT_ONLY = True
    settings.CSP_REPORT_URI = "/csp-reports/"
    response = Client().get("/accounts/login/")
    assert "Content-Security-Policy" not in response
    assert response["Content-Security-Policy-Report-Only"].endswith("report-uri /csp-reports/")
