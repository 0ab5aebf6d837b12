"""Releases API: releases (list, create, preview, detail with steps and targets), their actions
(start, confirm, pause, resume, abort, rollback), numbered events (?after=<seq>) and pods; an
instance's traffic providers under applications/{app_id}/instances/{env}/traffic-providers/.

Nothing here decides who may do what: services authorize (a denial is a 403 with an audit
record), selectors scope (another tenant's release is a 404).
"""
import django_filters
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from applications import selectors as app_selectors
from applications.models import AppRevision
from paas.api.base import ActorMixin
from paas.errors import DomainError
from tenants.selectors import environments_visible_to

from .. import selectors, services
from ..models import Release, TrafficProvider
from . import serializers as s

EVENTS_PAGE = 100
MAX_SEQ = 2**31 - 1
DELETED = {204: OpenApiResponse(description="Deleted.")}
NO_APP = OpenApiResponse(description="No such application (or not visible to the caller).")
ACTION_RESPONSES = {200: s.ReleaseDetailSerializer,
                    409: OpenApiResponse(description="Not in this state (the message names the state).")}


class ReleaseFilter(django_filters.FilterSet):
    tenant = django_filters.CharFilter(field_name="tenant__slug", help_text="Tenant slug.")
    environment = django_filters.CharFilter(field_name="environment__slug", help_text="Environment slug.")
    application = django_filters.CharFilter(field_name="instance__application__name", help_text="Application name.")
    state = django_filters.ChoiceFilter(choices=Release.State.choices)

    class Meta:
        model = Release
        fields = ["tenant", "environment", "application", "state"]


def _int_param(request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdecimal() or len(raw) > 10 or int(raw) > high:
        raise DomainError(_("%(name)s: a whole number from 0 to %(high)s") % {"name": name, "high": high},
                          field=name)
    return int(raw)


@extend_schema(tags=["releases"])
class ReleaseViewSet(ActorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Releases of the tenants the caller sees; filter with ?tenant=, ?environment=, ?application=, ?state=."""

    queryset = Release.objects.none()
    serializer_class = s.ReleaseSerializer
    filterset_class = ReleaseFilter
    ordering_fields = ["created_at", "number", "state"]
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.releases_visible_to(self.actor).order_by("-created_at", "-pk")

    def get_object(self):
        return selectors.release_get(self.actor, self.kwargs["pk"])

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "actor": self.actor}

    def _detail(self, release, code=status.HTTP_200_OK):
        release = selectors.release_detail(self.actor, release.pk)
        return Response(self.render(s.ReleaseDetailSerializer, release), status=code)

    def _resolve(self, data):
        """(instance, target revision) named by application id, environment slug and revision number."""
        application = app_selectors.application_get(self.actor, data["application"])
        environment = environments_visible_to(self.actor).filter(tenant=application.tenant,
                                                                 slug=data["environment"]).first()
        if environment is None:
            raise DomainError(_("environment: no such environment in this tenant"), field="environment")
        instance = application.instances.select_related("environment__tenant", "application__tenant",
                                                        "baseline").filter(environment=environment).first()
        if instance is None:
            raise DomainError(_("environment: %(app)s has no instance in %(env)s")
                              % {"app": application.name, "env": environment.slug}, field="environment")
        target = AppRevision.objects.filter(application=application, environment=environment,
                                            number=data["target"]).first()
        if target is None:
            raise DomainError(_("target: no revision %(n)s in %(env)s") % {"n": data["target"], "env": environment.slug},
                              field="target")
        return instance, target

    @extend_schema(responses=s.ReleaseDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        """The release with its options, plan, steps (with per-cluster targets) and what the caller may do."""
        return self._detail(self.get_object())

    @extend_schema(request=s.ReleaseCreateSerializer,
                   responses={201: s.ReleaseDetailSerializer, 404: NO_APP,
                              409: OpenApiResponse(description="Another release of the instance is active.")})
    def create(self, request, *args, **kwargs):
        """Plan a release of an application instance to a target revision (PLANNED; start it to run it)."""
        data = self.validated(s.ReleaseCreateSerializer)
        instance, target = self._resolve(data)
        release = services.release_create(actor=self.actor, instance=instance, target=target,
                                          options=data.get("options"), description=data.get("description", ""))
        return self._detail(release, status.HTTP_201_CREATED)

    @extend_schema(request=s.PreviewSerializer, responses={200: s.PlanDoc, 404: NO_APP})
    @action(detail=False, methods=["post"], pagination_class=None, filter_backends=[])
    def preview(self, request, *args, **kwargs):
        """The plan a release with these options would follow: steps, clusters, pods, estimates. Writes nothing."""
        data = self.validated(s.PreviewSerializer)
        instance, target = self._resolve(data)
        return Response(services.release_preview(actor=self.actor, instance=instance, target=target,
                                                 options=data.get("options")))

    def _act(self, call, *, reason: bool = False):
        release = self.get_object()
        extra = {"reason": self.validated(s.ReleaseReasonSerializer).get("reason", "")} if reason else {}
        call(actor=self.actor, release=release, **extra)
        return self._detail(release)

    @extend_schema(request=None, responses=ACTION_RESPONSES)
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def start(self, request, *args, **kwargs):
        """Start a planned release."""
        return self._act(services.release_start)

    @extend_schema(request=None, responses=ACTION_RESPONSES)
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def confirm(self, request, *args, **kwargs):
        """Confirm the step waiting for a person."""
        return self._act(services.release_confirm)

    @extend_schema(request=s.ReleaseReasonSerializer, responses=ACTION_RESPONSES)
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def pause(self, request, *args, **kwargs):
        """Pause: a running release stops after the pod in hand."""
        return self._act(services.release_pause, reason=True)

    @extend_schema(request=None, responses=ACTION_RESPONSES)
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def resume(self, request, *args, **kwargs):
        """Resume a paused release (or withdraw a pause not yet taken)."""
        return self._act(services.release_resume)

    @extend_schema(request=s.ReleaseReasonSerializer, responses=ACTION_RESPONSES)
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def abort(self, request, *args, **kwargs):
        """Stop where it is: every pod stays on the revision it has."""
        return self._act(services.release_abort, reason=True)

    @extend_schema(request=s.ReleaseReasonSerializer, responses=ACTION_RESPONSES)
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def rollback(self, request, *args, **kwargs):
        """Return every pod to the baseline revision (also after success, until a newer release)."""
        return self._act(services.release_rollback, reason=True)

    @extend_schema(parameters=[
        OpenApiParameter("after", OpenApiTypes.INT, description="Events numbered above this one (default 0)."),
        OpenApiParameter("limit", OpenApiTypes.INT, description=f"At most this many (default {EVENTS_PAGE}, "
                                                                f"max {selectors.MAX_EVENTS_PAGE})."),
    ], responses=s.EventPageSerializer)
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def events(self, request, *args, **kwargs):
        """The release's events numbered above ?after=, oldest first, without gaps; `next` pages on."""
        release = self.get_object()
        after = _int_param(request, "after", 0, MAX_SEQ)
        limit = max(1, _int_param(request, "limit", EVENTS_PAGE, selectors.MAX_EVENTS_PAGE))
        rows = selectors.events_after(release, after, limit)
        last = rows[-1].seq if rows else after
        following = None
        if rows and last < release.last_seq:
            following = request.build_absolute_uri(f"{request.path}?after={last}&limit={limit}")
        return Response({"events": s.ReleaseEventSerializer(rows, many=True).data, "after": after,
                         "last_seq": release.last_seq, "next": following})

    @extend_schema(responses=s.ReleasePodSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def pods(self, request, *args, **kwargs):
        """Every pod of the instance in this release, with its state (old, draining, updating, new, ...)."""
        release = self.get_object()
        page = self.paginate_queryset(selectors.pods_of(release))
        return self.get_paginated_response(s.ReleasePodSerializer(page, many=True).data)


@extend_schema(tags=["releases"])
class TrafficProviderViewSet(ActorMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """How the instance's pods leave and rejoin traffic during a release (registry, load balancer, DNS,
    signed webhook). A webhook's secret is write-only."""

    queryset = TrafficProvider.objects.none()
    serializer_class = s.TrafficProviderSerializer
    ordering_fields = ["name", "created_at"]
    lookup_value_regex = "[^/]+"
    instance = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        application = app_selectors.application_get(self.actor, self.kwargs["app_id"])
        self.instance = app_selectors.instance_get(application, self.kwargs["env"])

    def get_queryset(self):
        return selectors.providers_of(self.instance)

    def get_object(self):
        return selectors.provider_get(self.instance, self.kwargs["pk"])

    @extend_schema(request=s.TrafficProviderCreateSerializer, responses={201: s.TrafficProviderSerializer})
    def create(self, request, *args, **kwargs):
        data = self.validated(s.TrafficProviderCreateSerializer)
        provider = services.traffic_provider_create(actor=self.actor, instance=self.instance, **data)
        return Response(self.render(s.TrafficProviderSerializer, provider), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TrafficProviderUpdateSerializer, responses=s.TrafficProviderSerializer)
    def partial_update(self, request, *args, **kwargs):
        provider = self.get_object()
        data = self.validated(s.TrafficProviderUpdateSerializer, partial=True)
        provider = services.traffic_provider_update(actor=self.actor, provider=provider, **data)
        return Response(self.render(s.TrafficProviderSerializer, provider))

    @extend_schema(responses=DELETED)
    def destroy(self, request, *args, **kwargs):
        services.traffic_provider_delete(actor=self.actor, provider=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

