"""Cluster registry API: reads through clusters.selectors (operators see everything,
tenant members and their tokens see what their environments are bound to), writes
through clusters.services.

Operator actions check the platform permission before looking anything up, so
anyone else gets the same 403 whether or not the object exists (API tokens never
carry platform permissions).
"""
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from clusters import binding_requests, health, selectors, services
from clusters.federation import impact
from clusters.models import BindingRequest, Cell, Cluster, EnvironmentBinding, PlatformSwitch, Region, Zone
from paas.api.base import ActorMixin
from paas.errors import DomainError
from paas.permissions import authorize_platform
from tenants.selectors import environments_visible_to

from . import serializers as s

DRY_RUN = OpenApiParameter("dry_run", bool, description="Only answer the impact preview; change nothing.")
DELETED = {204: OpenApiResponse(description="Done; no content.")}


class RegistryViewSet(ActorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_field = "slug"
    # Any non-slash text reaches the view, so a malformed key is the API's JSON 404
    # rather than Django's HTML one (the router's default stops at a dot).
    lookup_value_regex = "[^/]+"
    selector = None  # staticmethod(selectors.<x>_visible_to)
    ordering_fields = ["slug", "name"]

    def get_queryset(self):
        return self.selector(self.actor)

    def require(self, perm: str, action_name: str) -> None:
        """The platform permission first: a refusal is a 403 (audited) whatever the target."""
        target = (self.queryset.model._meta.label_lower, "", self.kwargs.get(self.lookup_field, ""))
        authorize_platform(self.actor, f"clusters.{perm}", target, action=action_name)

    def reason(self) -> str:
        return self.validated(s.ReasonSerializer)["reason"]

    def impact(self):
        self.require(f"mark_{self.kind}_failed", f"topology.{self.kind}.mark_failed")
        query = s.ImpactQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return Response(impact.preview(self.get_object(), failed=query.validated_data["failed"]))


class TopologyViewSet(RegistryViewSet):
    kind = ""  # region / zone / cell
    create_serializer = update_serializer = None

    def create(self, request, *args, **kwargs):
        self.require(f"add_{self.kind}", f"topology.{self.kind}.create")
        create = getattr(services, f"{self.kind}_create")
        obj = create(actor=self.actor, **self.validated(self.create_serializer))
        return Response(self.render(self.serializer_class, obj), status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        self.require(f"change_{self.kind}", f"topology.{self.kind}.update")
        obj = self.get_object()
        update = getattr(services, f"{self.kind}_update")
        obj = update(actor=self.actor, **{self.kind: obj}, **self.validated(self.update_serializer, partial=True))
        return Response(self.render(self.serializer_class, obj))

    def destroy(self, request, *args, **kwargs):
        self.require(f"delete_{self.kind}", f"topology.{self.kind}.delete")
        getattr(services, f"{self.kind}_delete")(actor=self.actor, **{self.kind: self.get_object()})
        return Response(status=status.HTTP_204_NO_CONTENT)

    def drill(self, failed: bool):
        """?dry_run=1: the impact preview only (nothing changes)."""
        verb = "mark_failed" if failed else "mark_recovered"
        self.require(f"mark_{self.kind}_failed", f"topology.{self.kind}.{verb}")
        obj = self.get_object()
        if self.request.query_params.get("dry_run") in ("1", "true"):
            return Response(impact.preview(obj, failed=failed))
        obj = getattr(services, f"{self.kind}_{verb}")(actor=self.actor, **{self.kind: obj}, reason=self.reason())
        return Response(self.render(self.serializer_class, obj))


def _topology_schema(create, update, serializer, tag):
    """Class decorator: the OpenAPI description of a TopologyViewSet's writes."""
    def decorate(cls):
        # extend_schema_view wraps each inherited method in a function of this class:
        # annotating TopologyViewSet's own functions would give every subclass the last
        # class's serializers (regions and zones were documented as cells).
        cls = extend_schema_view(
            create=extend_schema(request=create, responses={201: serializer}),
            partial_update=extend_schema(request=update, responses=serializer),
            destroy=extend_schema(responses={**DELETED, 409: OpenApiResponse(description="Not empty.")}),
        )(cls)
        return extend_schema(tags=[tag])(cls)
    return decorate


@_topology_schema(s.RegionCreateSerializer, s.RegionUpdateSerializer, s.RegionSerializer, "clusters")
class RegionViewSet(TopologyViewSet):
    """Regions; operators create and change them."""

    queryset = Region.objects.none()
    serializer_class = s.RegionSerializer
    selector = staticmethod(selectors.regions_visible_to)
    kind = "region"
    create_serializer, update_serializer = s.RegionCreateSerializer, s.RegionUpdateSerializer


@_topology_schema(s.ZoneCreateSerializer, s.TopologyUpdateSerializer, s.ZoneSerializer, "clusters")
class ZoneViewSet(TopologyViewSet):
    """Zones (data centres); marking one failed re-places its workloads (DR drill)."""

    queryset = Zone.objects.none()
    serializer_class = s.ZoneSerializer
    selector = staticmethod(selectors.zones_visible_to)
    kind = "zone"
    create_serializer, update_serializer = s.ZoneCreateSerializer, s.TopologyUpdateSerializer

    @extend_schema(request=s.ReasonSerializer, responses=s.ZoneSerializer, parameters=[DRY_RUN])
    @action(detail=True, methods=["post"], url_path="mark-failed")
    def mark_failed(self, request, *args, **kwargs):
        return self.drill(True)

    @extend_schema(request=s.ReasonSerializer, responses=s.ZoneSerializer, parameters=[DRY_RUN])
    @action(detail=True, methods=["post"])
    def recover(self, request, *args, **kwargs):
        return self.drill(False)

    @extend_schema(parameters=[s.ImpactQuerySerializer], responses=s.ImpactSerializer)
    @action(detail=True, methods=["get"], url_path="impact")
    def impact_preview(self, request, *args, **kwargs):
        """What marking it failed (or recovered, failed=false) would move; changes nothing."""
        return self.impact()


@_topology_schema(s.CellCreateSerializer, s.TopologyUpdateSerializer, s.CellSerializer, "clusters")
class CellViewSet(TopologyViewSet):
    """Cells (deployment units); each has its own work queue."""

    queryset = Cell.objects.none()
    serializer_class = s.CellSerializer
    selector = staticmethod(selectors.cells_visible_to)
    kind = "cell"
    create_serializer, update_serializer = s.CellCreateSerializer, s.TopologyUpdateSerializer

    @extend_schema(request=s.ReasonSerializer, responses=s.CellSerializer, parameters=[DRY_RUN])
    @action(detail=True, methods=["post"], url_path="mark-failed")
    def mark_failed(self, request, *args, **kwargs):
        return self.drill(True)

    @extend_schema(request=s.ReasonSerializer, responses=s.CellSerializer, parameters=[DRY_RUN])
    @action(detail=True, methods=["post"])
    def recover(self, request, *args, **kwargs):
        return self.drill(False)

    @extend_schema(parameters=[s.ImpactQuerySerializer], responses=s.ImpactSerializer)
    @action(detail=True, methods=["get"], url_path="impact")
    def impact_preview(self, request, *args, **kwargs):
        """What marking it failed (or recovered, failed=false) would move; changes nothing."""
        return self.impact()


def _flag_action(name: str, perm: str, audit_action: str, service_name: str, doc: str):
    def view(self, request, *args, **kwargs):
        self.require(perm, audit_action)
        cluster = getattr(services, service_name)(actor=self.actor, cluster=self.get_object(), reason=self.reason())
        return Response(self.render(s.ClusterSerializer, cluster))

    view.__name__ = view.__qualname__ = name
    view.__doc__ = doc
    return extend_schema(request=s.ReasonSerializer, responses=s.ClusterSerializer)(
        action(detail=True, methods=["post"])(view))


@extend_schema(tags=["clusters"])
class ClusterViewSet(RegistryViewSet):
    """Member clusters. Registering takes a kubeconfig, which is stored encrypted and never returned."""

    queryset = Cluster.objects.none()
    serializer_class = s.ClusterSerializer
    selector = staticmethod(selectors.clusters_visible_to)
    ordering_fields = ["slug", "name", "health", "created_at"]

    @extend_schema(request=s.ClusterRegisterSerializer, responses={201: s.ClusterSerializer})
    def create(self, request, *args, **kwargs):
        """Register a cluster; with probe (default) only if its API answers these credentials."""
        self.require("add_cluster", "cluster.register")
        data = self.validated(s.ClusterRegisterSerializer)
        cluster = services.cluster_register(actor=self.actor, kubeconfig_text=data.pop("kubeconfig"), **data)
        return Response(self.render(s.ClusterSerializer, cluster), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ClusterUpdateSerializer, responses=s.ClusterSerializer)
    def partial_update(self, request, *args, **kwargs):
        self.require("change_cluster", "cluster.update")
        cluster = self.get_object()
        data = self.validated(s.ClusterUpdateSerializer, partial=True)
        return Response(self.render(s.ClusterSerializer, services.cluster_update(actor=self.actor, cluster=cluster,
                                                                                 **data)))

    @extend_schema(responses=DELETED)
    def destroy(self, request, *args, **kwargs):
        """Remove the cluster from the platform (nothing inside the cluster is deleted)."""
        self.require("delete_cluster", "cluster.remove")
        services.cluster_remove(actor=self.actor, cluster=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    cordon = _flag_action("cordon", "cordon_cluster", "cluster.cordon", "cluster_cordon",
                          "Cordon: no new placements, and workloads move to other clusters.")
    uncordon = _flag_action("uncordon", "cordon_cluster", "cluster.uncordon", "cluster_uncordon",
                            "Uncordon: the cluster takes placements again.")
    pause = _flag_action("pause", "pause_propagation", "cluster.propagation.pause", "cluster_pause_propagation",
                         "Stop propagation to this cluster: nothing is pushed to it until resumed.")
    resume = _flag_action("resume", "pause_propagation", "cluster.propagation.resume",
                          "cluster_resume_propagation", "Resume propagation to this cluster.")

    @extend_schema(request=s.CredentialsSerializer, responses=s.ClusterSerializer)
    @action(detail=True, methods=["post"])
    def credentials(self, request, *args, **kwargs):
        """Replace the stored kubeconfig (e.g. a rotated token)."""
        self.require("change_cluster", "cluster.credentials.replace")
        cluster = self.get_object()
        data = self.validated(s.CredentialsSerializer)
        cluster = services.cluster_replace_credentials(actor=self.actor, cluster=cluster,
                                                       kubeconfig_text=data["kubeconfig"], probe=data["probe"])
        return Response(self.render(s.ClusterSerializer, cluster))

    @extend_schema(request=None, responses=s.ClusterSerializer)
    @action(detail=True, methods=["post"])
    def check(self, request, *args, **kwargs):
        """Run the health check now and return the result."""
        self.require("change_cluster", "cluster.health.check")
        cluster = health.check_cluster(self.get_object().pk, actor=self.actor)
        return Response(self.render(s.ClusterSerializer, cluster))


@extend_schema(tags=["clusters"])
class PlatformSwitchViewSet(ActorMixin, viewsets.GenericViewSet):
    """The global stop switch for all propagation: anyone signed in may read it; operators flip it."""

    queryset = PlatformSwitch.objects.none()
    serializer_class = s.PlatformSwitchSerializer
    pagination_class = None
    filter_backends = []
    lists_objects = False  # GET answers the one switch, not a list (paas.api.schema)

    @extend_schema(responses=s.PlatformSwitchSerializer)
    def list(self, request, *args, **kwargs):
        return Response(self.render(s.PlatformSwitchSerializer, selectors.platform_switch()))

    @extend_schema(request=s.PlatformSwitchInputSerializer, responses=s.PlatformSwitchSerializer)
    def create(self, request, *args, **kwargs):
        """Stop (propagation_paused=true, with a reason) or resume all propagation."""
        authorize_platform(self.actor, "clusters.stop_all_propagation", selectors.platform_switch(),
                           action="platform.propagation.switch")
        data = self.validated(s.PlatformSwitchInputSerializer)
        if data["propagation_paused"]:
            switch = services.platform_stop_propagation(actor=self.actor, reason=data["reason"])
        else:
            switch = services.platform_resume_propagation(actor=self.actor, reason=data["reason"])
        return Response(self.render(s.PlatformSwitchSerializer, switch))


@extend_schema(tags=["clusters"])
class BindingViewSet(ActorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Which cells or clusters each tenant environment may place workloads on; operators change them.
    Filter with ?tenant=<slug>&environment=<slug>."""

    queryset = EnvironmentBinding.objects.none()
    serializer_class = s.BindingSerializer
    ordering_fields = ["id", "created_at"]
    lookup_value_regex = "[^/]+"  # see RegistryViewSet

    def get_queryset(self):
        bindings = selectors.bindings_visible_to(self.actor).order_by("id")
        for param, lookup in (("tenant", "environment__tenant__slug"), ("environment", "environment__slug")):
            if self.request.query_params.get(param):
                bindings = bindings.filter(**{lookup: self.request.query_params[param]})
        return bindings

    @extend_schema(request=s.BindingCreateSerializer, responses={201: s.BindingSerializer})
    def create(self, request, *args, **kwargs):
        authorize_platform(self.actor, "clusters.add_environmentbinding", ("clusters.environmentbinding", "", ""),
                           action="cluster.binding.create")
        data = self.validated(s.BindingCreateSerializer)
        environment = selectors.environments_for_bindings(self.actor).filter(
            tenant__slug=data["tenant"], slug=data["environment"]).first()
        if environment is None:
            raise Http404("No such environment.")
        if bool(data.get("cell")) == bool(data.get("cluster")):
            raise DomainError(_("Give either a cell or a cluster."), field="cell")
        target = ({"cell": selectors.cell_get(self.actor, data["cell"])} if data.get("cell")
                  else {"cluster": selectors.cluster_get(self.actor, data["cluster"])})
        binding = services.environment_bind(actor=self.actor, environment=environment, **target)
        return Response(self.render(s.BindingSerializer, binding), status=status.HTTP_201_CREATED)

    @extend_schema(responses=DELETED)
    def destroy(self, request, *args, **kwargs):
        authorize_platform(self.actor, "clusters.delete_environmentbinding",
                           ("clusters.environmentbinding", self.kwargs.get("pk", ""), ""),
                           action="cluster.binding.delete")
        services.environment_unbind(actor=self.actor, binding=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class BindingRequestViewSet(ActorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tenants ask for an environment to be bound to a cell or cluster; operators approve (the
    binding is created) or reject with a comment. Filter with ?state=pending&tenant=<slug>."""

    queryset = BindingRequest.objects.none()
    serializer_class = s.BindingRequestSerializer
    ordering_fields = ["id", "created_at"]
    lookup_value_regex = "[^/]+"  # see RegistryViewSet

    def get_queryset(self):
        rows = selectors.binding_requests_visible_to(self.actor).order_by("-id")
        for param, lookup in (("state", "state"), ("tenant", "environment__tenant__slug")):
            if self.request.query_params.get(param):
                rows = rows.filter(**{lookup: self.request.query_params[param]})
        return rows

    def get_object(self):
        pk = self.kwargs.get("pk", "")
        row = self.get_queryset().filter(pk=int(pk)).first() if str(pk).isdigit() else None
        if row is None:
            raise Http404("No such binding request.")
        return row

    @extend_schema(request=s.BindingRequestCreateSerializer, responses={
        201: s.BindingRequestSerializer, 404: OpenApiResponse(description="No such environment, cell or cluster.")})
    def create(self, request, *args, **kwargs):
        data = self.validated(s.BindingRequestCreateSerializer)
        environment = environments_visible_to(self.actor).filter(tenant__slug=data["tenant"],
                                                                 slug=data["environment"]).first()
        if environment is None:
            raise Http404("No such environment.")
        if bool(data.get("cell")) == bool(data.get("cluster")):
            raise DomainError(_("Give either a cell or a cluster."), field="cell")
        kind = "cell" if data.get("cell") else "cluster"
        target = (Cell if kind == "cell" else Cluster).objects.filter(slug=data[kind]).first()
        if target is None:
            raise Http404(f"No such {kind}.")
        row = binding_requests.binding_request_create(actor=self.actor, environment=environment,
                                                      reason=data["reason"], **{kind: target})
        return Response(self.render(s.BindingRequestSerializer, row), status=status.HTTP_201_CREATED)

    def _decide(self, verb: str):
        # Operators only, refused (and audited) before the lookup: others learn nothing.
        authorize_platform(self.actor, binding_requests.DECIDE,
                           ("clusters.bindingrequest", str(self.kwargs.get("pk", ""))[:64], ""),
                           action=f"cluster.binding_request.{verb}")
        comment = self.validated(s.DecisionSerializer)["comment"]
        service = getattr(binding_requests, f"binding_request_{verb}")
        row = service(actor=self.actor, request=self.get_object(), comment=comment)
        return Response(self.render(s.BindingRequestSerializer, row))

    @extend_schema(request=s.DecisionSerializer, responses=s.BindingRequestSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, *args, **kwargs):
        return self._decide("approve")

    @extend_schema(request=s.DecisionSerializer, responses=s.BindingRequestSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, *args, **kwargs):
        return self._decide("reject")

    @extend_schema(request=None, responses=s.BindingRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, *args, **kwargs):
        row = binding_requests.binding_request_cancel(actor=self.actor, request=self.get_object())
        return Response(self.render(s.BindingRequestSerializer, row))
