"""API of the workload drill-down: pods, events and logs of a federated workload in one
member cluster (?cluster=<slug>), read live through clusters.federation.drilldown.

Pods and events need what reading the resource needs (view_tenant); logs may hold
secrets and need manage_applications, and every read is audited (never the text).
A member cluster that does not answer in time is a 504 naming it, never a hang.
"""
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from paas.api.base import TenantChildViewSet
from paas.api.schema import ErrorSerializer

from .. import drilldown, selectors
from ..models import FederatedResource

CLUSTER = OpenApiParameter("cluster", str, required=True, description="Slug of a member cluster the workload is on.")
SILENT = OpenApiResponse(ErrorSerializer, description="The member cluster did not answer in time or refused the read.")


class ClusterQuerySerializer(serializers.Serializer):
    cluster = serializers.RegexField(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", max_length=63)


class LogQuerySerializer(ClusterQuerySerializer):
    pod = serializers.RegexField(drilldown.POD_NAME.pattern, max_length=253)
    container = serializers.RegexField(drilldown.CONTAINER_NAME.pattern, max_length=63, required=False)
    tailLines = serializers.IntegerField(min_value=1, max_value=drilldown.MAX_TAIL, required=False,  # noqa: N815
                                         help_text="Last lines to return (default 200).")
    sinceSeconds = serializers.IntegerField(min_value=1, max_value=drilldown.MAX_SINCE_SECONDS,  # noqa: N815
                                            required=False)
    timestamps = serializers.BooleanField(required=False, default=False)


class PodSerializer(serializers.Serializer):
    name = serializers.CharField()
    phase = serializers.CharField()
    reason = serializers.CharField(help_text="Why it is not simply running (CrashLoopBackOff, Unschedulable…).")
    message = serializers.CharField()
    ready = serializers.IntegerField(help_text="Ready containers.")
    containers_total = serializers.IntegerField()
    restarts = serializers.IntegerField()
    node = serializers.CharField()
    pod_ip = serializers.CharField()
    created = serializers.DateTimeField(allow_null=True)
    images = serializers.ListField(child=serializers.CharField())
    containers = serializers.ListField(child=serializers.CharField())


class PodsSerializer(serializers.Serializer):
    cluster = serializers.CharField()
    namespace = serializers.CharField()
    selector = serializers.CharField()
    pods = PodSerializer(many=True)


class EventSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="Normal or Warning.")
    reason = serializers.CharField()
    object = serializers.CharField(help_text="Kind/name of the object it is about.")
    message = serializers.CharField(help_text="Known sensitive values are replaced by ***.")
    count = serializers.IntegerField()
    first_seen = serializers.DateTimeField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    source = serializers.CharField()


class EventsSerializer(serializers.Serializer):
    cluster = serializers.CharField()
    namespace = serializers.CharField()
    events = EventSerializer(many=True)


@extend_schema(tags=["federation"])
class FederatedWorkloadViewSet(TenantChildViewSet):
    """Pods, events and logs of a federated workload (Deployment, StatefulSet, CRDs with replicas)."""

    queryset = FederatedResource.objects.none()
    serializer_class = PodsSerializer

    def visible(self):
        return selectors.resources_visible_to(self.actor)

    def perform_content_negotiation(self, request, force=False):
        # The log is text/plain whatever Accept says, and errors keep the one JSON shape.
        return super().perform_content_negotiation(request, force=force or self.action == "logs")

    def _target(self, query_serializer=ClusterQuerySerializer):
        resource = self.get_object()
        query = query_serializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return drilldown.target_for(resource, query.validated_data["cluster"]), query.validated_data

    @extend_schema(parameters=[CLUSTER], responses={200: PodsSerializer, 504: SILENT})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def pods(self, request, *args, **kwargs):
        """The workload's pods in one member cluster, read live."""
        target, _query = self._target()
        rows = drilldown.pods(target)
        return Response(PodsSerializer({"cluster": target.cluster.slug, "namespace": target.namespace,
                                        "selector": target.label_selector, "pods": rows}).data)

    @extend_schema(parameters=[CLUSTER], responses={200: EventsSerializer, 504: SILENT})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def events(self, request, *args, **kwargs):
        """Kubernetes Events of the workload, its ReplicaSets and its pods in one cluster, newest first."""
        target, _query = self._target()
        rows = drilldown.events(target)
        return Response(EventsSerializer({"cluster": target.cluster.slug, "namespace": target.namespace,
                                          "events": rows}).data)

    @extend_schema(parameters=[LogQuerySerializer],
                   responses={(200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="The log."),
                              504: SILENT})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[],
            renderer_classes=[renderers.JSONRenderer])
    def logs(self, request, *args, **kwargs):
        """A pod's log (needs the permission to manage the tenant's applications; audited)."""
        resource = self.get_object()
        drilldown.authorize_logs(self.actor, resource, mode="view")
        target, data = self._target(LogQuerySerializer)
        query = drilldown.LogQuery(pod=data["pod"], container=data.get("container", ""),
                                   tail_lines=data.get("tailLines", drilldown.DEFAULT_TAIL),
                                   since_seconds=data.get("sinceSeconds"), timestamps=data["timestamps"])
        text = drilldown.pod_log(actor=self.actor, target=target, query=query, mode="view")
        return HttpResponse(text, content_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-store"})
