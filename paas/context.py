"""Per-request context (request id, source address, user agent).

Kept in a contextvar so the audit service and log lines can read it without
every service having to take the request as an argument. Celery tasks and
consumers set their own context through `bind()`.
"""
import contextvars
import logging
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace

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


def client_ip(meta) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy
    # rewrites it, and an audit trail must not record a forged address.
    return meta.get("REMOTE_ADDR") or None


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
