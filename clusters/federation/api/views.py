"""Federation API: federated types (read; operators register CRDs), and federated
resources of a tenant (CRUD, preview, status, service discovery).

Nothing here decides who may do what: services authorize (a denial is a 403 with
an audit record), selectors scope (another tenant's object is a 404).
"""
import django_filters
from django.db.models import Q
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from clusters.models import Cluster
from paas.api.base import ActorMixin, TenantChildViewSet
from paas.errors import DomainError
from tenants.selectors import environments_visible_to

from .. import discovery, preview_apply, quota_usage, selectors, services
from .. import health as health_rules
from ..models import FederatedResource, FederatedType
from ..preview import authorize_preview, preview
from . import serializers as s


class FederatedResourceFilter(django_filters.FilterSet):
    environment = django_filters.CharFilter(field_name="environment__slug")
    kind = django_filters.CharFilter(field_name="ftype__kind")
    name = django_filters.CharFilter(field_name="name")
    health = django_filters.ChoiceFilter(choices=[(s, s) for s in health_rules.STATES], method="filter_health",
                                         help_text="healthy, progressing, degraded, failed or unknown")

    class Meta:
        model = FederatedResource
        fields = ["environment", "kind", "name", "deleting", "health"]

    def filter_health(self, queryset, name, value):
        matches = Q(status__health__state=value)
        if value == health_rules.UNKNOWN:  # never aggregated yet: no health stored
            matches |= ~Q(status__has_key="health")
        return queryset.filter(matches)


@extend_schema(tags=["federation"])
class FederatedTypeViewSet(ActorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Kinds that may be federated. Everyone signed in reads the enabled ones."""

    queryset = FederatedType.objects.none()
    serializer_class = s.FederatedTypeSerializer
    lookup_value_regex = "[^/]+"  # see TenantChildViewSet
    filterset_fields = ["source", "enabled", "group", "kind"]
    ordering_fields = ["kind", "group", "created_at"]

    def get_queryset(self):
        return selectors.types_visible_to(self.actor)

    def get_object(self):
        return selectors.type_get(self.actor, self.kwargs["pk"])

    @extend_schema(request=s.RegisterCrdSerializer, responses={201: s.FederatedTypeSerializer})
    @action(detail=False, methods=["post"], url_path="register-crd")
    def register_crd(self, request):
        """Register a CRD read from a member cluster (platform operators only)."""
        data = self.validated(s.RegisterCrdSerializer)
        cluster = Cluster.objects.filter(slug=data["cluster"]).first()
        ftype = services.federated_type_register_crd(actor=self.actor, cluster=cluster, crd_name=data["crd"])
        return Response(self.render(s.FederatedTypeSerializer, ftype), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TypeUpdateSerializer, responses=s.FederatedTypeSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Enable or disable a type, or set its sensitive paths (platform operators only)."""
        ftype = self.get_object()
        data = self.validated(s.TypeUpdateSerializer, partial=True)
        if not data:
            raise DomainError(_("Give enabled and/or sensitive_paths."))
        if "sensitive_paths" in data:
            ftype = services.federated_type_set_sensitive_paths(actor=self.actor, ftype=ftype,
                                                                paths=data["sensitive_paths"])
        if "enabled" in data:
            ftype = services.federated_type_set_enabled(actor=self.actor, ftype=ftype, enabled=data["enabled"])
        return Response(self.render(s.FederatedTypeSerializer, ftype))


@extend_schema(tags=["federation"])
class FederatedResourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantChildViewSet):
    """Federated resources of the tenant; filter with ?environment=<slug>."""

    queryset = FederatedResource.objects.none()
    serializer_class = s.FederatedResourceSerializer
    filterset_class = FederatedResourceFilter
    ordering_fields = ["name", "created_at", "updated_at"]

    def visible(self):
        return selectors.resources_visible_to(self.actor)

    def get_serializer_class(self):
        return s.FederatedResourceDetailSerializer if self.action == "retrieve" else s.FederatedResourceSerializer

    def _type(self, data) -> FederatedType:
        if data.get("type"):
            api_version, _sep, kind = data["type"].rpartition("/")
        else:
            template = data.get("template") if isinstance(data.get("template"), dict) else {}
            api_version, kind = template.get("apiVersion", ""), template.get("kind", "")
        ftype = selectors.type_by_api_version(self.actor, api_version, kind)
        if ftype is None:
            raise DomainError(_("type: %(t)s is not a federated type") % {"t": f"{api_version}/{kind}"}, field="type")
        return ftype

    @extend_schema(request=s.FederatedResourceCreateSerializer, responses={201: s.FederatedResourceDetailSerializer})
    def create(self, request, *args, **kwargs):
        """Create a federated resource; its objects are propagated to the placed clusters."""
        data = self.validated(s.FederatedResourceCreateSerializer)
        environment = environments_visible_to(self.actor).filter(tenant=self.tenant, slug=data["environment"]).first()
        if environment is None:
            raise DomainError(_("environment: no such environment in this tenant"), field="environment")
        resource = services.federated_resource_create(
            actor=self.actor, environment=environment, ftype=self._type(data), name=data.get("name", ""),
            template=data["template"], placement=data.get("placement"), overrides=data.get("overrides"))
        return Response(self.render(s.FederatedResourceDetailSerializer, resource), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.FederatedResourceChangeSerializer, responses=s.FederatedResourceDetailSerializer)
    def partial_update(self, request, *args, **kwargs):
        """Change the template, placement and/or overrides (a new generation). With base_generation (the
        generation a preview was computed on) the change is applied only if nobody saved since: 409 otherwise."""
        data = self.validated(s.FederatedResourceChangeSerializer, partial=True)
        resource = self.get_object()
        if "base_generation" in data:
            base = data.pop("base_generation")
            resource = preview_apply.federated_resource_apply_previewed(
                actor=self.actor, resource=resource, base_generation=base, template=data.get("template"),
                placement=data.get("placement"), overrides=data.get("overrides"))
        else:
            resource = services.federated_resource_update(actor=self.actor, resource=resource, **data)
        return Response(self.render(s.FederatedResourceDetailSerializer, resource))

    @extend_schema(responses={202: s.FederatedResourceSerializer,
                              204: OpenApiResponse(description="Deleted (it had reached no cluster).")})
    def destroy(self, request, *args, **kwargs):
        """Delete: the objects are removed from every member cluster, then the resource goes."""
        resource = self.get_object()
        services.federated_resource_delete(actor=self.actor, resource=resource)
        remaining = FederatedResource.objects.filter(pk=resource.pk).first()
        if remaining is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self.render(s.FederatedResourceSerializer, remaining), status=status.HTTP_202_ACCEPTED)

    @extend_schema(methods=["GET"], request=None, responses=s.PreviewEntrySerializer(many=True))
    @extend_schema(methods=["POST"], request=s.FederatedResourceUpdateSerializer,
                   responses=s.PreviewEntrySerializer(many=True))
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def preview(self, request, *args, **kwargs):
        """Per cluster: the rendered object and a diff against what the cluster holds.
        POST a proposed template/placement/overrides to preview it without saving."""
        resource = self.get_object()
        authorize_preview(self.actor, resource)  # the change's permission, before the body is read
        proposed = self.validated(s.FederatedResourceUpdateSerializer, partial=True) if request.method == "POST" else {}
        entries = preview(actor=self.actor, resource=resource, **proposed)
        return Response(quota_usage.with_quota(entries, resource=resource, template=proposed.get("template")))

    @extend_schema(responses=s.FederatedResourceDetailSerializer)
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def status(self, request, *args, **kwargs):
        """Aggregated status and the per-cluster rows."""
        return Response(self.render(s.FederatedResourceDetailSerializer, self.get_object()))

    @extend_schema(responses={200: OpenApiResponse(OpenApiTypes.OBJECT,
                                                   description="Endpoints grouped by cell and zone."),
                              400: OpenApiResponse(description="The resource is not a Service.")})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def endpoints(self, request, *args, **kwargs):
        """Service discovery for a federated Service: endpoints per cluster, cell and zone."""
        return Response(discovery.service_endpoints(self.get_object()))

