"""One JSON error shape for the whole API:
{"error": {"status": 400, "code": "invalid", "message": "...", "fields": {...}}, "request_id": "..."}

exception_handler covers what DRF views raise. Errors raised outside a DRF view (an
unknown URL, a body over DATA_UPLOAD_MAX_MEMORY_SIZE, a CSRF failure, an unhandled
exception) reach Django's handler400/403/404/500 (paas.urls) and csrf_failure below:
under /api/ they answer the same JSON shape, elsewhere Django's HTML pages.
"""
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views import csrf, defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from paas import context
from paas.errors import DomainError

from .refusal_log import note_reason


def _body(status_code: int, code: str, message: str, fields: dict | None = None) -> dict:
    error = {"status": status_code, "code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error, "request_id": context.current().request_id}


def exception_handler(exc, ctx):
    if isinstance(exc, RequestDataTooBig):
        return Response(_body(400, "too_large", str(exc)), status=400)
    if isinstance(exc, DomainError):
        fields = {exc.field: [exc.message]} if exc.field else None
        return Response(_body(exc.status_code, exc.code, exc.message, fields), status=exc.status_code)
    if isinstance(exc, PermissionDenied) and not isinstance(exc, exceptions.PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, ctx)
    if response is None:
        return None
    detail = response.data
    fields = None
    if isinstance(exc, exceptions.ValidationError):
        message = _("The request is not valid; see the fields.")
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        code = "invalid"
    else:
        message = str(detail.get("detail", detail)) if isinstance(detail, dict) else str(detail)
        code = getattr(exc, "default_code", "error")
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        code = "not_authenticated"
    if response.status_code in (401, 403, 404):
        note_reason(ctx["request"], message)  # the one log line says why (paas.api.refusal_log)
    response.data = _body(response.status_code, code, message, fields)
    return response


# --- errors outside DRF views (wired in paas.urls and settings.CSRF_FAILURE_VIEW) ---------

def is_api(request) -> bool:
    return request.path.startswith("/api/")


def _json(status_code: int, code: str, message: str) -> JsonResponse:
    # No detail from the exception: it may echo hostile input or internals (no traceback).
    return JsonResponse(_body(status_code, code, message), status=status_code)


def bad_request(request, exception, template_name=defaults.ERROR_400_TEMPLATE_NAME):
    if not is_api(request):
        return defaults.bad_request(request, exception, template_name)
    if isinstance(exception, RequestDataTooBig):
        return _json(400, "too_large", _("The request body is too large."))
    return _json(400, "bad_request", _("The request is not valid."))


def permission_denied(request, exception, template_name=defaults.ERROR_403_TEMPLATE_NAME):
    if not is_api(request):
        return defaults.permission_denied(request, exception, template_name)
    return _json(403, "permission_denied", _("You do not have permission to perform this action."))


def page_not_found(request, exception, template_name=defaults.ERROR_404_TEMPLATE_NAME):
    if not is_api(request):
        return defaults.page_not_found(request, exception, template_name)
    return _json(404, "not_found", _("Not found."))


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    if not is_api(request):
        return defaults.server_error(request, template_name)
    return _json(500, "server_error", _("Internal server error; the request id identifies it in the logs."))


def csrf_failure(request, reason=""):
    if not is_api(request):
        return csrf.csrf_failure(request, reason)
    return _json(403, "csrf_failed", _("CSRF check failed: %(reason)s") % {"reason": reason})
