"""WebSocket Origin check: scheme, host and port, as the browser's same-origin rule.

channels' AllowedHostsOriginValidator compares the Origin's host with ALLOWED_HOSTS
only, so a page served from another port of the same host (another app on
localhost:9999, say) could open a socket with the portal's session cookie (cookies
are not port-scoped). Here the Origin must equal the portal's own origin (the
scheme of this connection, behind SECURE_PROXY_SSL_HEADER the forwarded one, and the
Host header, which must itself be an allowed host) or one of CSRF_TRUSTED_ORIGINS.
"""
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) origin; None when it is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def _scheme(scope, headers: dict) -> str:
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, value = proxy
        header = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin1")
        if headers.get(header, b"").decode("latin1").split(",")[0].strip() == value:
            return "https"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def origin_allowed(scope) -> bool:
    headers = dict(scope.get("headers") or ())
    origin = _origin(headers.get(b"origin", b"").decode("latin1"))
    if origin is None:
        return False
    allowed = {_origin(trusted) for trusted in settings.CSRF_TRUSTED_ORIGINS}
    host = headers.get(b"host", b"").decode("latin1")
    domain, _port = split_domain_port(host)
    if domain and validate_host(domain, settings.ALLOWED_HOSTS):
        allowed.add(_origin(f"{_scheme(scope, headers)}://{host}"))
    return origin in allowed


class SameOriginValidator:
    """ASGI middleware: a WebSocket whose Origin is not the portal's own is denied (403)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
