"""What the OpenAPI schema says beyond each view's own annotations.

- Every operation lists the error answers it can give, all in the one JSON error
  shape of paas.api.errors (the `Error` component), derived from the view rather
  than annotated by hand on each of them:
    400 a write, or a read with query parameters (a malformed body or filter);
    401/403 any view that needs a signed-in caller (403 also: not permitted);
    404 a path with parameters (not found, or another tenant's), or a paginated list (bad page);
    409 a write (a conflict with the current state, e.g. a protected environment);
    415 an operation with a request body: the API reads application/json only;
    429 a throttled view.
- Optional query parameters are `allowEmptyValue`: django-filter and the paginator
  ignore an empty value (`?kind=`), as HTML forms send them.
- A view with `lists_objects = False` answers its `list` action with one object
  (the platform switch), not an array.
"""
import uritemplate
from django.utils.translation import gettext_lazy as _
from drf_spectacular import openapi
from rest_framework import permissions, serializers

WRITES = {"POST", "PUT", "PATCH", "DELETE"}

ERROR_DESCRIPTIONS = {
    400: _("The request is not valid: `error.fields` names each offending field."),
    401: _("No valid credentials: sign in or send an API token."),
    403: _("Not permitted."),
    404: _("No such object (or not visible to the caller)."),
    409: _("The request conflicts with the current state of the object."),
    415: _("Unsupported content type: send application/json."),
    429: _("Too many requests: retry after the number of seconds in Retry-After."),
}


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text=_("The HTTP status code, repeated."))
    code = serializers.CharField(help_text=_("Machine-readable, e.g. invalid, not_found, permission_denied."))
    message = serializers.CharField(help_text=_("Human-readable, in the request's language."))
    fields = serializers.DictField(
        required=False, child=serializers.JSONField(),
        help_text=_("For invalid input: field name -> list of messages (nested for nested input)."))


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the whole API."""

    error = ErrorDetailSerializer()
    request_id = serializers.CharField(allow_null=True, help_text=_("Quote it when reporting a problem."))

    class Meta:
        ref_name = "Error"


class AutoSchema(openapi.AutoSchema):
    def _is_list_view(self, serializer=None) -> bool:
        if getattr(self.view, "lists_objects", True) is False:
            return False
        return super()._is_list_view(serializer)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self.error_codes():
            responses.setdefault(str(code), {"description": str(ERROR_DESCRIPTIONS[code])})
        for code, existing in responses.items():
            if code >= "400" and "content" not in existing:  # a description only: give it the shape
                entry = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                responses[code] = {**entry, "description": existing["description"]}
        return responses

    def error_codes(self) -> list[int]:
        codes = set()
        has_body = self.method in WRITES and self.get_request_serializer() is not None
        if self.method in WRITES or self._has_query_parameters():
            codes.add(400)
        if any(not isinstance(p, permissions.AllowAny) for p in self.view.get_permissions()):
            codes |= {401, 403}
        if uritemplate.variables(self.path) or (self._is_list_view() and self._get_paginator()):
            codes.add(404)
        if self.method in WRITES:
            codes.add(409)
        if has_body:
            codes.add(415)
        if self.view.get_throttles():
            codes.add(429)
        return sorted(codes)

    def _has_query_parameters(self) -> bool:
        return any(p.get("in") == "query" for p in self._get_parameters())


def mark_empty_query_values_allowed(result, generator, request, public):
    """POSTPROCESSING hook: optional query parameters accept an empty value (it is ignored)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result
