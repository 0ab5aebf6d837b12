"""Content-Security-Policy and Permissions-Policy on every response.

Django 5.2 has no CSP support, so this middleware sets it. The policy lets the
browser run scripts and apply stylesheets from this origin only: no inline
`<script>`, no `on*=` handlers, no `style="..."` attributes, no eval. A stolen
foothold in any HTML we render (a template bug, a user string that slips through)
then cannot run code or restyle the page to phish.

A nonce exists for third-party code that inserts `<style>` elements at run time
and cannot be told otherwise (ReDoc's styled-components). A template or view asks
for it as `request.csp_nonce` / `{{ csp_nonce }}`; only a response that used it
names it in its header, and it is new for every request. A view that needs one more
source sets `response.csp_update = {"worker-src": ["blob:"]}`.

Settings: CSP_REPORT_ONLY (send Content-Security-Policy-Report-Only instead, to try
a change on a live system) and CSP_REPORT_URI (where browsers POST violation reports).
"""
import secrets

from django.conf import settings
from django.core.exceptions import DisallowedHost

HEADER = "Content-Security-Policy"
REPORT_ONLY_HEADER = "Content-Security-Policy-Report-Only"

# Powerful browser features the portal never uses, switched off for every frame.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in ("accelerometer", "camera", "geolocation", "gyroscope", "magnetometer", "microphone",
                    "midi", "payment", "usb")
)


class Nonce:
    """A per-request nonce made on first use, so pages that never need one keep a
    policy without any (`str(nonce)` in a template makes it)."""

    def __init__(self):
        self._value = ""

    def __str__(self) -> str:
        if not self._value:
            self._value = secrets.token_urlsafe(18)
        return self._value

    def __bool__(self) -> bool:
        return True

    @property
    def used(self) -> bool:
        return bool(self._value)


def build_policy(request, response) -> str:
    nonce = getattr(request, "csp_nonce", None)
    inline = [f"'nonce-{nonce}'"] if isinstance(nonce, Nonce) and nonce.used else []
    # 'self' covers ws:/wss: of this host in CSP 3, but not in every browser still in
    # use; the explicit source is this host only (get_host() is checked against ALLOWED_HOSTS).
    try:
        sockets = [f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}"]
    except DisallowedHost:  # the 400 answering a forged Host header gets the policy too
        sockets = []
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *inline],
        "style-src": ["'self'", *inline],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", *sockets],
        "worker-src": ["'self'"],
        "frame-src": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    for name, sources in getattr(response, "csp_update", {}).items():
        directives.setdefault(name, [])
        directives[name] += [s for s in sources if s not in directives[name]]
    extra_style_attr = getattr(response, "csp_style_attr_hashes", None)
    if extra_style_attr:
        directives["style-src-attr"] = ["'unsafe-hashes'", *extra_style_attr]
    report_uri = getattr(settings, "CSP_REPORT_URI", "")
    if report_uri:
        directives["report-uri"] = [report_uri]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def _is_debug_error_page(response) -> bool:
    # Django's technical 404/500 pages (DEBUG only) are made of inline <style> and
    # <script>; under the policy a developer would get an unstyled, dead page.
    return (settings.DEBUG and response.status_code in (404, 500)
            and response.get("Content-Type", "").startswith("text/html")
            and not getattr(response, "streaming", False)
            and b"DEBUG = True" in response.content)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = Nonce()
        response = self.get_response(request)
        header = REPORT_ONLY_HEADER if getattr(settings, "CSP_REPORT_ONLY", False) else HEADER
        if header not in response and not _is_debug_error_page(response):
            response[header] = build_policy(request, response)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


def context_processor(request):
    """`{{ csp_nonce }}` in templates: <style nonce="{{ csp_nonce }}"> for the rare third-party case."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
