"""Expected refusals (401, 403, 404) as one log line, tracebacks only for real errors.

Django's `django.request` logger logs a PermissionDenied or Http404 raised by a view
with the exception attached, so every refused click printed a full traceback. A
refusal is not a bug: operators want to see who was refused what and why, in one
line they can grep. This filter (on the `django.request` logger, see settings.LOGGING)
rewrites such records; 5xx records keep their traceback.

The reason comes from the exception Django attached or, for DRF views (which handle
their exceptions themselves), from what paas.api.errors.exception_handler noted on
the request.
"""
import logging
import re

REASON_ATTR = "_paas_refusal_reason"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MAX = 300


def note_reason(request, reason: str) -> None:
    """Remember why the API refused this request (called by the DRF exception handler)."""
    django_request = getattr(request, "_request", request)
    setattr(django_request, REASON_ATTR, str(reason))


def _clean(text, limit: int = _MAX) -> str:
    """One line, bounded: paths and messages can carry what a client typed."""
    text = _CONTROL.sub(" ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _user(request) -> str:
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    return _clean(user.get_username(), 150)


def _reason(record, request) -> str:
    noted = getattr(request, REASON_ATTR, None) if request is not None else None
    if noted:
        return _clean(noted)
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        return _clean(str(exc) or exc.__class__.__name__)
    return _clean(record.getMessage().partition(":")[0])


class RefusalLineFilter(logging.Filter):
    def filter(self, record):
        if getattr(record, "_paas_refusal_line", False):
            return True  # already rewritten (the filter can be attached twice when logging is configured again)
        status = getattr(record, "status_code", None)
        if not isinstance(status, int) or not 400 <= status < 500:
            return True
        request = getattr(record, "request", None)
        method = getattr(request, "method", "") or ""
        path = _clean(getattr(request, "path", "") or "", 500)
        args = (status, method, path, _user(request), _reason(record, request))
        record.msg, record.args = "refused %s %s %s for %s: %s", args
        record._paas_refusal_line = True
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        # A refused permission is worth a look; a 401/404 is routine.
        record.levelno, record.levelname = (
            (logging.WARNING, "WARNING") if status == 403 else (logging.INFO, "INFO"))
        return True
