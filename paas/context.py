"""Per-request context (request id, source address, user agent).

Kept in a contextvar so the audit service and log lines can read it without
every service having to take the request as an argument. Celery tasks and
consumers set their own context through `bind()`.
"""
import contextvars
import ipaddress
import logging
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache

from django.conf import settings

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    source_ip: str | None = None
    user_agent: str = ""


_current = contextvars.ContextVar("paas_request_context", default=RequestContext())  # noqa: B039 (frozen)


def current() -> RequestContext:
    return _current.get()


@contextmanager
def bind(**fields):
    """Run a block with some context fields set (used by tasks and consumers)."""
    token = _current.set(replace(_current.get(), **fields))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def _address(value: str):
    """An address from a REMOTE_ADDR or X-Forwarded-For hop ("1.2.3.4:80" and
    "[::1]:80" too), or None when it is not one."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None
    # "::ffff:10.0.0.1" (a dual-stack socket) is 10.0.0.1 for the TRUSTED_PROXIES match.
    return getattr(address, "ipv4_mapped", None) or address


def client_ip(meta) -> str | None:
    """The client's address: REMOTE_ADDR, unless that is a trusted proxy.

    X-Forwarded-For is written by the client as much as by proxies, so it is read
    only when the connection comes from a TRUSTED_PROXIES address, and then from
    the right: each trusted proxy appends the address it received the request
    from, so the right-most hop that is not a trusted proxy is the client (what
    the client put further left is ignored). Lockout and the audit trail use it.
    """
    remote = meta.get("REMOTE_ADDR") or None
    trusted = _networks(tuple(settings.TRUSTED_PROXIES))
    peer = _address(remote) if remote and trusted else None
    if peer is None or not any(peer in net for net in trusted):
        return remote
    hops = [hop for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:  # garbage: keep the last hop a trusted proxy vouched for
            break
        client = address
        if not any(address in net for net in trusted):
            break
    return str(client)


class RequestContextMiddleware:
    """Assigns a request id (or accepts a well-formed X-Request-ID) and echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else new_request_id()
        request.request_id = request_id
        token = _current.set(
            RequestContext(
                request_id=request_id,
                source_ip=client_ip(request.META),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
            )
        )
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = request_id
        return response


class LogContextFilter(logging.Filter):
    def filter(self, record):
        record.request_id = current().request_id or "-"
        return True
