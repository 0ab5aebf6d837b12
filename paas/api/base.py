"""Shared pieces of the API views.

Views stay thin: they read input with an input serializer, call a selector or a
service with the acting `Actor`, and render the result with an output serializer.
Errors need no handling here: NotPermitted, Http404 and DomainError are turned into
the one JSON error shape by paas.api.errors.exception_handler.
"""
from functools import cached_property

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import serializers, viewsets

from paas.actors import Actor
from tenants.selectors import tenant_get

from .strict import type_errors

# URL prefix of everything a tenant owns. Any non-slash text is accepted so that an
# unknown or foreign tenant answers the API's JSON 404 (from the selector), not
# Django's HTML one; the explicit pattern also types the parameter in the schema.
TENANT_PREFIX = r"tenants/(?P<tenant_slug>[^/]+)"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes tenants.authentication.ApiTokenAuthentication in the OpenAPI schema."""

    target_class = "tenants.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "paas_<prefix>_<secret>",
            "description": "An API token of one tenant, created under /api/v1/tenants/{slug}/tokens/.",
        }


class ActorMixin:
    """`self.actor`: who is acting on this request (user, or API token on behalf of its user)."""

    @cached_property
    def actor(self) -> Actor:
        return Actor.from_request(self.request)

    def validated(self, serializer_class, **kwargs) -> dict:
        """Check the request body's shape with an input serializer (400 naming the fields).

        Values of the wrong JSON type are refused, not coerced (paas.api.strict)."""
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context(), **kwargs)
        errors = type_errors(serializer, self.request.data)
        if errors:
            raise serializers.ValidationError(errors)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def render(self, serializer_class, instance, **context) -> dict:
        return serializer_class(instance, context={**self.get_serializer_context(), **context}).data


class TenantChildViewSet(ActorMixin, viewsets.GenericViewSet):
    """Base of nested routes under tenants/{tenant_slug}/.

    The tenant is resolved through the selector before anything else (after
    authentication), so a tenant the caller cannot see is a 404 whatever the
    method or body. Subclasses give `visible()`, the selector of their objects.
    """

    tenant = None
    # Any non-slash text reaches the view, so a malformed key is the API's JSON 404
    # rather than Django's HTML one (the router's default stops at a dot).
    lookup_value_regex = "[^/]+"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.tenant = tenant_get(self.actor, self.kwargs["tenant_slug"])

    def visible(self):
        raise NotImplementedError

    def get_queryset(self):
        return self.visible().filter(tenant=self.tenant)
