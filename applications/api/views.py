"""Applications API: applications, and under applications/{app_id}/ their components,
dependencies, instances (+ apply) and revisions (+ diff, promote).

Nothing here decides who may do what: services authorize (a denial is a 403 with an audit
record), selectors scope (another tenant's application is a 404).
"""
from functools import cached_property

import django_filters
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from paas.api.base import ActorMixin
from paas.errors import DomainError
from tenants.selectors import environments_visible_to, tenants_visible_to

from .. import selectors, services
from ..models import AppInstance, Application, ApplicationDependency, AppRevision, Component, Stack
from . import serializers as s

DELETED = {204: OpenApiResponse(description="Deleted.")}
APP_PREFIX = r"applications/(?P<app_id>[^/]+)"


class ApplicationFilter(django_filters.FilterSet):
    tenant = django_filters.CharFilter(field_name="tenant__slug", help_text="Tenant slug.")
    stack = django_filters.ChoiceFilter(choices=Stack.choices)
    team = django_filters.CharFilter()
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Application
        fields = ["tenant", "stack", "team", "name"]


@extend_schema(tags=["applications"])
class ApplicationViewSet(ActorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Applications of the tenants the caller sees; filter with ?tenant=<slug>."""

    queryset = Application.objects.none()
    serializer_class = s.ApplicationSerializer
    filterset_class = ApplicationFilter
    ordering_fields = ["name", "created_at", "updated_at"]
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.applications_visible_to(self.actor).prefetch_related("components").order_by("tenant", "name")

    def get_object(self):
        return selectors.application_get(self.actor, self.kwargs["pk"])

    @extend_schema(request=s.ApplicationCreateSerializer,
                   responses={201: s.ApplicationSerializer,
                              404: OpenApiResponse(description="No such tenant (or not visible to the caller).")})
    def create(self, request, *args, **kwargs):
        """Create an application in a tenant (manage_applications)."""
        data = self.validated(s.ApplicationCreateSerializer)
        tenant = tenants_visible_to(self.actor).filter(slug=data.pop("tenant")).first()
        if tenant is None:
            raise Http404("No such tenant.")  # as for any object of a tenant the caller cannot see
        application = services.application_create(actor=self.actor, tenant=tenant, **data)
        return Response(self.render(s.ApplicationSerializer, application), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ApplicationUpdateSerializer, responses=s.ApplicationSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Change description, team, repository, stack or labels (the name stays)."""
        application = self.get_object()
        data = self.validated(s.ApplicationUpdateSerializer, partial=True)
        application = services.application_update(actor=self.actor, application=application, **data)
        return Response(self.render(s.ApplicationSerializer, application))

    @extend_schema(responses=DELETED)
    def destroy(self, request, *args, **kwargs):
        """Delete the application; its instances' objects are removed from every member cluster."""
        services.application_delete(actor=self.actor, application=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApplicationChildViewSet(ActorMixin, viewsets.GenericViewSet):
    """Base of routes under applications/{app_id}/: the application is resolved through the selector
    first, so one the caller cannot see is a 404 whatever the method or body."""

    lookup_value_regex = "[^/]+"
    application = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.application = selectors.application_get(self.actor, self.kwargs["app_id"])

    def environment(self, slug, field="environment"):
        environment = environments_visible_to(self.actor).filter(tenant=self.application.tenant, slug=slug).first()
        if environment is None:
            raise DomainError(_("%(field)s: no such environment in this tenant") % {"field": field}, field=field)
        return environment


@extend_schema(tags=["applications"])
class ComponentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApplicationChildViewSet):
    queryset = Component.objects.none()
    serializer_class = s.ComponentSerializer
    lookup_field = "name"
    ordering_fields = ["name", "created_at"]
    filterset_fields = ["workload_kind"]

    def get_queryset(self):
        return self.application.components.order_by("name")

    def get_object(self):
        return selectors.component_get(self.application, self.kwargs["name"])

    @extend_schema(request=s.ComponentInputSerializer, responses={201: s.ComponentSerializer})
    def create(self, request, *args, **kwargs):
        """Add a component (a workload: image, command, ports, env, config files, resources, probes, replicas)."""
        data = self.validated(s.ComponentInputSerializer)
        component = services.component_create(actor=self.actor, application=self.application, data=data)
        return Response(self.render(s.ComponentSerializer, component), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ComponentInputSerializer(partial=True), responses=s.ComponentSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Change some settings; a new revision deploys them."""
        component = self.get_object()
        data = self.validated(s.ComponentInputSerializer, partial=True)
        component = services.component_update(actor=self.actor, component=component, data=data)
        return Response(self.render(s.ComponentSerializer, component))

    @extend_schema(responses=DELETED)
    def destroy(self, request, *args, **kwargs):
        services.component_delete(actor=self.actor, component=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["applications"])
class DependencyViewSet(mixins.ListModelMixin, ApplicationChildViewSet):
    """What this application needs (the release pipeline releases those first)."""

    queryset = ApplicationDependency.objects.none()
    serializer_class = s.DependencySerializer
    lookup_field = "name"
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return self.application.dependencies.select_related("application", "depends_on").order_by("depends_on__name")

    def _other(self, name, field="depends_on"):
        other = Application.objects.filter(tenant=self.application.tenant, name=name).first()
        if other is None:
            raise DomainError(_("%(field)s: no such application in this tenant") % {"field": field}, field=field)
        return other

    @extend_schema(request=s.DependencyCreateSerializer, responses={201: s.DependencySerializer})
    def create(self, request, *args, **kwargs):
        """Add "this application needs depends_on"; a cycle is refused naming it."""
        data = self.validated(s.DependencyCreateSerializer)
        edge = services.dependency_add(actor=self.actor, application=self.application,
                                       depends_on=self._other(data["depends_on"]))
        return Response(self.render(s.DependencySerializer, edge), status=status.HTTP_201_CREATED)

    @extend_schema(responses=DELETED)
    def destroy(self, request, *args, **kwargs):
        """Remove the dependency on the application named in the path."""
        other = Application.objects.filter(tenant=self.application.tenant, name=self.kwargs["name"]).first()
        if other is None or not self.application.dependencies.filter(depends_on=other).exists():
            raise Http404("No such dependency.")
        services.dependency_remove(actor=self.actor, application=self.application, depends_on=other)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["applications"])
class InstanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApplicationChildViewSet):
    """The application per environment: placement, baseline revision and live status of what it runs."""

    queryset = AppInstance.objects.none()
    serializer_class = s.InstanceSerializer
    lookup_field = "env"
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return selectors.instances_of(self.application).order_by("environment__slug")

    def get_object(self):
        return selectors.instance_get(self.application, self.kwargs["env"])

    @extend_schema(request=s.InstanceCreateSerializer, responses={201: s.InstanceSerializer})
    def create(self, request, *args, **kwargs):
        """Place the application in an environment (the placement is checked against its bindings)."""
        data = self.validated(s.InstanceCreateSerializer)
        instance = services.instance_create(actor=self.actor, application=self.application,
                                            environment=self.environment(data["environment"]),
                                            placement=data.get("placement"))
        return Response(self.render(s.InstanceSerializer, instance), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.InstanceUpdateSerializer, responses=s.InstanceSerializer)
    def partial_update(self, request, *args, **kwargs):
        """A new placement; it takes effect when a revision is next applied or released."""
        instance = self.get_object()
        data = self.validated(s.InstanceUpdateSerializer)
        instance = services.instance_update(actor=self.actor, instance=instance, placement=data["placement"])
        return Response(self.render(s.InstanceSerializer, instance))

    @extend_schema(request=s.ApplySerializer, responses=s.InstanceSerializer)
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def apply(self, request, *args, **kwargs):
        """Deploy a revision directly (dev and test only; pre and prod change through releases). It becomes
        the baseline; its objects are federated resources owned by the instance."""
        instance = self.get_object()
        data = self.validated(s.ApplySerializer)
        revision = AppRevision.objects.filter(application=self.application, environment=instance.environment,
                                              number=data["revision"]).first()
        if revision is None:
            raise DomainError(_("revision: no revision %(n)s in %(env)s")
                              % {"n": data["revision"], "env": instance.environment.slug}, field="revision")
        instance = services.instance_apply_revision(actor=self.actor, instance=instance, revision=revision)
        return Response(self.render(s.InstanceSerializer, instance))


class RevisionFilter(django_filters.FilterSet):
    environment = django_filters.CharFilter(field_name="environment__slug")

    class Meta:
        model = AppRevision
        fields = ["environment", "number"]


@extend_schema(tags=["applications"])
class RevisionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApplicationChildViewSet):
    """Immutable revisions, numbered per environment; filter with ?environment=<slug>."""

    queryset = AppRevision.objects.none()
    serializer_class = s.RevisionSerializer
    filterset_class = RevisionFilter
    ordering_fields = ["number", "created_at"]

    def get_queryset(self):
        return selectors.revisions_of(self.application)

    def get_object(self):
        return selectors.revision_get(self.application, self.kwargs["pk"])

    @cached_property
    def baselines(self) -> set[int]:
        return set(self.application.instances.exclude(baseline=None).values_list("baseline_id", flat=True))

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.application is not None:
            context["baselines"] = self.baselines
        return context

    def _answer(self, revision):
        code = status.HTTP_201_CREATED if getattr(revision, "created", True) else status.HTTP_200_OK
        return Response(self.render(s.RevisionSerializer, revision), status=code)

    @extend_schema(request=s.RevisionCreateSerializer,
                   responses={201: s.RevisionSerializer,
                              200: OpenApiResponse(s.RevisionSerializer,
                                                   description="Nothing changed: the latest revision.")})
    def create(self, request, *args, **kwargs):
        """Create a revision for an environment: every image pinned to an existing digest, quota checked,
        prod only with images the platform built."""
        data = self.validated(s.RevisionCreateSerializer)
        build = None
        if data.get("build") is not None:
            from applications.builds.models import Build

            build = Build.objects.filter(application=self.application, pk=data["build"]).first()
            if build is None:
                raise DomainError(_("build: no such build of this application"), field="build")
        revision = services.revision_create(actor=self.actor, application=self.application,
                                            environment=self.environment(data["environment"]),
                                            spec=data.get("spec"), build=build, comment=data.get("comment", ""))
        return self._answer(revision)

    @extend_schema(request=s.PromoteSerializer,
                   responses={201: s.RevisionSerializer,
                              200: OpenApiResponse(s.RevisionSerializer, description="Already promoted.")})
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def promote(self, request, *args, **kwargs):
        """Copy the revision unchanged (same digests) to the next environment: dev -> test -> pre -> prod."""
        revision = self.get_object()
        data = self.validated(s.PromoteSerializer)
        copy = services.revision_promote(actor=self.actor, revision=revision,
                                         environment=self.environment(data["environment"]))
        return self._answer(copy)

    @extend_schema(parameters=[OpenApiParameter("from", OpenApiTypes.INT, description=(
        "Id of the revision to compare with (any environment of the application); default: the previous "
        "revision of the same environment."))], responses=s.DiffRowSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def diff(self, request, *args, **kwargs):
        """Field by field, [{path, before, after}], from ?from=<id> to this revision. Secret env shows
        names and a fingerprint, never values."""
        after = self.get_object()
        raw = request.query_params.get("from")
        if raw not in (None, ""):
            if not raw.isdigit():
                raise DomainError(_("from: must be a revision id"), field="from")
            before = AppRevision.objects.filter(application=self.application, pk=int(raw)).first() \
                if len(raw) < 19 else None
            if before is None:
                raise DomainError(_("from: no such revision of this application"), field="from")
        else:
            before = (AppRevision.objects.filter(application=self.application, environment=after.environment,
                                                 number__lt=after.number).order_by("-number").first())
        return Response(services.revision_diff(before, after))
