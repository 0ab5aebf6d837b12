"""Registry API: the built-in registry's repositories and tags (reads through selectors, tag
deletion through services), and external registries (create, change, remove)."""
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from paas.api.base import ActorMixin
from paas.errors import DomainError
from tenants.selectors import tenants_visible_to

from .. import selectors, services
from ..models import ExternalRegistry, Repository, Tag
from . import filters
from . import serializers as s

DELETED = {204: OpenApiResponse(description="Done; no content.")}


@extend_schema(tags=["registry"])
class RepositoryViewSet(ActorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Repositories of the built-in registry the caller may see: their tenants' and the platform's
    base images. Push and pull go through the registry itself (/v2/, with an API token as password)."""

    queryset = Repository.objects.none()
    serializer_class = s.RepositorySerializer
    filterset_class = filters.RepositoryFilter
    ordering_fields = ["name", "last_push_at", "created_at"]
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.repositories_visible_to(self.actor)

    @extend_schema(responses=s.TagSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=None)
    def tags(self, request, *args, **kwargs):
        """The repository's tags with digest, size, who pushed them and when, and their referrers
        (e.g. a build's provenance)."""
        repository = self.get_object()
        page = self.paginate_queryset(selectors.tags_of(repository))
        return self.get_paginated_response(s.TagSerializer(page, many=True).data)

    @extend_schema(responses=DELETED)
    @action(detail=True, methods=["delete"], url_path=r"tags/(?P<tag>[^/]+)", filterset_class=None,
            ordering_fields=None)
    def delete_tag(self, request, *args, tag=None, **kwargs):
        """Remove a tag (manage_applications; operators for platform/); the image stays reachable
        by digest until no tag or manifest uses it and garbage collection runs."""
        repository = self.get_object()
        found = Tag.objects.filter(repository=repository, name=tag).select_related("manifest", "repository").first()
        if found is None:
            raise Http404(_("No such tag."))
        services.tag_delete(actor=self.actor, tag=found)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["registry"])
class ExternalRegistryViewSet(ActorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                              viewsets.GenericViewSet):
    """External registries (Harbor, distribution, …) builds push to and clusters pull from: a
    tenant's own (its owners and admins manage them) and platform-wide ones (operators). Passwords
    are write-only and stored encrypted."""

    queryset = ExternalRegistry.objects.none()
    serializer_class = s.ExternalRegistrySerializer
    filterset_class = filters.ExternalRegistryFilter
    ordering_fields = ["name", "host", "created_at"]
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.external_registries_visible_to(self.actor)

    @extend_schema(request=s.ExternalRegistryCreateSerializer, responses={
        201: s.ExternalRegistrySerializer, 409: OpenApiResponse(description="The name is taken.")})
    def create(self, request, *args, **kwargs):
        data = self.validated(s.ExternalRegistryCreateSerializer)
        slug = data.pop("tenant")
        tenant = None
        if slug is not None:
            tenant = tenants_visible_to(self.actor).filter(slug=slug).first()
            if tenant is None:
                raise DomainError(_("No such tenant among those you can see."), field="tenant")
        registry = services.external_registry_create(actor=self.actor, tenant=tenant, **data)
        return Response(self.render(s.ExternalRegistrySerializer, registry), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ExternalRegistryUpdateSerializer, responses={
        200: s.ExternalRegistrySerializer, 409: OpenApiResponse(description="The name is taken.")})
    def partial_update(self, request, *args, **kwargs):
        registry = self.get_object()
        data = self.validated(s.ExternalRegistryUpdateSerializer, partial=True)
        registry = services.external_registry_update(actor=self.actor, registry=registry, **data)
        return Response(self.render(s.ExternalRegistrySerializer, registry))

    @extend_schema(responses=DELETED)
    def destroy(self, request, *args, **kwargs):
        services.external_registry_delete(actor=self.actor, registry=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
