"""Tenant API views: reads through tenants.selectors, writes through tenants.services.

Nested under tenants/{tenant_slug}/: environments, members, quotas and tokens.
Nothing here decides who may do what: the services authorize (a denial is a 403
with an audit record), the selectors scope (another tenant's object is a 404).
"""
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from paas.api.base import ActorMixin, TenantChildViewSet
from paas.errors import DomainError
from tenants import quota_requests, selectors, services
from tenants.models import ApiToken, Environment, Membership, Quota, QuotaRequest, Tenant

from . import filters
from . import serializers as s

DELETED = {204: OpenApiResponse(description="Done; no content.")}
FORBIDDEN_SET_QUOTA = OpenApiResponse(description="Only platform operators (tenants.set_quota) set quotas.")


@extend_schema(tags=["tenants"])
class TenantViewSet(ActorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tenants the caller can see (all of them for platform operators)."""

    queryset = Tenant.objects.none()  # the real one comes from the selector
    serializer_class = s.TenantSerializer
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"  # see TenantChildViewSet
    filterset_class = filters.TenantFilter
    ordering_fields = ["name", "slug", "created_at"]

    def get_queryset(self):
        return selectors.tenants_visible_to(self.actor)

    def get_object(self):
        return selectors.tenant_get(self.actor, self.kwargs["slug"])

    @extend_schema(request=s.TenantCreateSerializer, responses={201: s.TenantSerializer})
    def create(self, request, *args, **kwargs):
        """Create a tenant with the default environments; operators only. The creator becomes its owner."""
        tenant = services.tenant_create(actor=self.actor, **self.validated(s.TenantCreateSerializer))
        return Response(self.render(s.TenantSerializer, tenant), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TenantUpdateSerializer, responses=s.TenantSerializer)
    def partial_update(self, request, *args, **kwargs):
        tenant = self.get_object()
        data = self.validated(s.TenantUpdateSerializer, partial=True)
        tenant = services.tenant_update(actor=self.actor, tenant=tenant, **data)
        return Response(self.render(s.TenantSerializer, tenant))


@extend_schema(tags=["environments"])
class EnvironmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantChildViewSet):
    queryset = Environment.objects.none()
    serializer_class = s.EnvironmentSerializer
    lookup_field = "slug"
    filterset_class = filters.EnvironmentFilter
    ordering_fields = ["slug", "name", "kind", "created_at"]

    def visible(self):
        return selectors.environments_visible_to(self.actor)

    @extend_schema(request=s.EnvironmentCreateSerializer, responses={201: s.EnvironmentSerializer})
    def create(self, request, *args, **kwargs):
        """Create an environment (and its default quota)."""
        data = self.validated(s.EnvironmentCreateSerializer)
        env = services.environment_create(actor=self.actor, tenant=self.tenant, **data)
        return Response(self.render(s.EnvironmentSerializer, env), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.EnvironmentUpdateSerializer, responses=s.EnvironmentSerializer)
    def partial_update(self, request, *args, **kwargs):
        env = self.get_object()
        data = self.validated(s.EnvironmentUpdateSerializer, partial=True)
        env = services.environment_update(actor=self.actor, environment=env, **data)
        return Response(self.render(s.EnvironmentSerializer, env))

    @extend_schema(responses={**DELETED, 409: OpenApiResponse(description="The environment is protected.")})
    def destroy(self, request, *args, **kwargs):
        """Delete an environment; protected ones (always production) answer 409."""
        services.environment_delete(actor=self.actor, environment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["members"])
class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantChildViewSet):
    """Members of the tenant, addressed by username."""

    queryset = Membership.objects.none()
    serializer_class = s.MembershipSerializer
    lookup_field = "user__username"
    lookup_url_kwarg = "username"
    lookup_value_regex = "[^/]+"
    filterset_class = filters.MembershipFilter
    ordering_fields = ["user__username", "role", "created_at"]

    def visible(self):
        return selectors.memberships_visible_to(self.actor)

    @extend_schema(request=s.MemberAddSerializer, responses={202: s.MemberAddedSerializer})
    def create(self, request, *args, **kwargs):
        """Add an existing account (by username or e-mail) with a role.

        The answer is the same 202 whether or not such an account exists (no probing of
        accounts); the member list shows who was added."""
        data = self.validated(s.MemberAddSerializer)
        services.member_invite(actor=self.actor, tenant=self.tenant, identifier=data["user"], role=data["role"])
        return Response({"user": data["user"], "role": data["role"], "detail": services.member_invite_message(
            data["user"], data["role"])}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.MemberRoleSerializer, responses=s.MembershipSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Change a member's role; the last owner cannot be demoted (409)."""
        membership = self.get_object()
        role = self.validated(s.MemberRoleSerializer)["role"]
        membership = services.member_change_role(actor=self.actor, membership=membership, role=role)
        return Response(self.render(s.MembershipSerializer, membership))

    @extend_schema(responses={**DELETED, 409: OpenApiResponse(description="The last owner cannot be removed.")})
    def destroy(self, request, *args, **kwargs):
        """Remove a member (their tokens for this tenant are revoked with the membership)."""
        services.member_remove(actor=self.actor, membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["quotas"])
class QuotaViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantChildViewSet):
    """Resource quotas, one per environment, addressed by the environment's slug."""

    queryset = Quota.objects.none()
    serializer_class = s.QuotaSerializer
    lookup_field = "environment__slug"
    lookup_url_kwarg = "environment"
    filterset_class = filters.QuotaFilter
    ordering_fields = ["environment__slug", "cpu_millicores", "memory_mib", "updated_at"]

    def visible(self):
        return selectors.quotas_visible_to(self.actor)

    @extend_schema(request=s.QuotaUpdateSerializer, responses={200: s.QuotaSerializer, 403: FORBIDDEN_SET_QUOTA})
    def partial_update(self, request, *args, **kwargs):
        """Change some limits. Platform operators only: tenants ask through quota-requests/."""
        return self._set(partial=True)

    @extend_schema(request=s.QuotaUpdateSerializer, responses={200: s.QuotaSerializer, 403: FORBIDDEN_SET_QUOTA})
    def update(self, request, *args, **kwargs):
        """Set every limit. Platform operators only: tenants ask through quota-requests/."""
        return self._set(partial=False)

    def _set(self, *, partial: bool):
        quota = self.get_object()
        data = self.validated(s.QuotaUpdateSerializer, partial=partial)
        quota = services.quota_update(actor=self.actor, quota=quota, **data)
        return Response(self.render(s.QuotaSerializer, quota))


@extend_schema(tags=["quotas"])
class QuotaRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantChildViewSet):
    """The tenant's requests for other quotas, newest first; platform operators decide them
    (see /api/v1/quota-requests/)."""

    queryset = QuotaRequest.objects.none()
    serializer_class = s.QuotaRequestSerializer
    filterset_class = filters.QuotaRequestFilter
    ordering_fields = ["created_at", "decided_at", "state"]

    def visible(self):
        return selectors.quota_requests_visible_to(self.actor)

    @extend_schema(request=s.QuotaRequestCreateSerializer, responses={
        201: s.QuotaRequestSerializer,
        409: OpenApiResponse(description="The environment already has a pending request.")})
    def create(self, request, *args, **kwargs):
        """Ask for other limits on one environment (request_quota: owners and admins)."""
        data = self.validated(s.QuotaRequestCreateSerializer)
        slug = data.pop("environment")
        environment = selectors.environments_visible_to(self.actor).filter(tenant=self.tenant, slug=slug).first()
        if environment is None:
            raise DomainError(_("No environment '%(slug)s' in this tenant.") % {"slug": slug}, field="environment")
        quota_request = quota_requests.quota_request_create(actor=self.actor, environment=environment, **data)
        return Response(self.render(s.QuotaRequestSerializer, quota_request), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.QuotaRequestSerializer,
                                            409: OpenApiResponse(description="The request is no longer pending.")})
    @action(detail=True, methods=["post"])
    def cancel(self, request, *args, **kwargs):
        """Withdraw a pending request."""
        quota_request = quota_requests.quota_request_cancel(actor=self.actor, request=self.get_object())
        return Response(self.render(s.QuotaRequestSerializer, quota_request))


@extend_schema(tags=["quotas"])
class PlatformQuotaRequestViewSet(ActorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                                  viewsets.GenericViewSet):
    """Quota requests across tenants: all of them for platform operators (tenants.set_quota),
    who approve or reject them; others see their own tenants' requests, read-only.
    Filter with ?state=pending&tenant=<slug>."""

    queryset = QuotaRequest.objects.none()
    serializer_class = s.QuotaRequestSerializer
    filterset_class = filters.QuotaRequestFilter
    ordering_fields = ["created_at", "decided_at", "state"]

    def get_queryset(self):
        return selectors.quota_requests_visible_to(self.actor)

    @extend_schema(request=s.QuotaDecisionSerializer, responses={
        200: s.QuotaRequestSerializer, 403: FORBIDDEN_SET_QUOTA,
        409: OpenApiResponse(description="The request is no longer pending.")})
    @action(detail=True, methods=["post"])
    def approve(self, request, *args, **kwargs):
        """Apply the requested limits to the environment's quota (re-validated) and close the request."""
        comment = self.validated(s.QuotaDecisionSerializer)["comment"]
        quota_request = quota_requests.quota_request_approve(actor=self.actor, request=self.get_object(),
                                                             comment=comment)
        return Response(self.render(s.QuotaRequestSerializer, quota_request))

    @extend_schema(request=s.QuotaDecisionSerializer, responses={
        200: s.QuotaRequestSerializer, 403: FORBIDDEN_SET_QUOTA,
        409: OpenApiResponse(description="The request is no longer pending.")})
    @action(detail=True, methods=["post"])
    def reject(self, request, *args, **kwargs):
        """Refuse the request; the comment (required) tells the tenant why."""
        comment = self.validated(s.QuotaDecisionSerializer)["comment"]
        quota_request = quota_requests.quota_request_reject(actor=self.actor, request=self.get_object(),
                                                            comment=comment)
        return Response(self.render(s.QuotaRequestSerializer, quota_request))


@extend_schema(tags=["tokens"])
class TokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantChildViewSet):
    """API tokens: one's own, or every member's for those who manage tokens.

    Revoking keeps the row (status becomes "revoked") so the audit trail and
    "last used" stay readable.
    """

    queryset = ApiToken.objects.none()
    serializer_class = s.ApiTokenSerializer
    filterset_class = filters.ApiTokenFilter
    ordering_fields = ["created_at", "name", "expires_at", "last_used_at"]

    def visible(self):
        return selectors.tokens_visible_to(self.actor)

    @extend_schema(request=s.ApiTokenCreateSerializer, responses={201: s.ApiTokenCreatedSerializer})
    def create(self, request, *args, **kwargs):
        """Create a token for the calling user; the answer holds the full token, shown only this once."""
        data = self.validated(s.ApiTokenCreateSerializer)
        token, plaintext = services.token_create(actor=self.actor, tenant=self.tenant, **data)
        body = self.render(s.ApiTokenCreatedSerializer, token, plaintext=plaintext)
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses=DELETED)
    def destroy(self, request, *args, **kwargs):
        """Revoke the token (the same as POST .../revoke/)."""
        services.token_revoke(actor=self.actor, token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=s.ApiTokenSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, *args, **kwargs):
        """Revoke the token and return it (status "revoked")."""
        token = services.token_revoke(actor=self.actor, token=self.get_object())
        return Response(self.render(s.ApiTokenSerializer, token))
