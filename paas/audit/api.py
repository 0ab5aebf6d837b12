"""REST API of the audit trail: cursor-paginated list, detail and streamed export."""
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer

from paas.actors import Actor
from paas.api.pagination import AuditCursorPagination

from . import export
from .access import auditable_tenants, ensure_may_audit
from .filters import AuditEventFilter, active_filters
from .selectors import audit_events_visible_to
from .serializers import AuditEventSerializer


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Audit events of the tenants the caller may audit (everything for platform auditors)."""

    serializer_class = AuditEventSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AuditEventFilter
    pagination_class = AuditCursorPagination
    lookup_value_regex = "[^/]+"  # a malformed id is the API's JSON 404, not Django's HTML one

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        ensure_may_audit(Actor.from_request(request))

    def get_queryset(self):
        return audit_events_visible_to(Actor.from_request(self.request)).order_by("-id")

    def perform_content_negotiation(self, request, force=False):
        # `format` names the export file type here, not a DRF renderer; errors stay JSON.
        if self.action == "export":
            return JSONRenderer(), JSONRenderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        operation_id="audit_events_export",
        filters=True,
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=sorted(export.FORMATS), default="csv",
                                     description="File type of the export.")],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV with a header row"),
                   (200, "application/json"): AuditEventSerializer(many=True)},
    )
    @action(detail=False, methods=["get"], url_path="export", pagination_class=None)
    def export(self, request, *args, **kwargs):
        """Stream every matching event (same filters as the list) as CSV or JSON; the export is audited."""
        fmt = (self.format_kwarg or request.query_params.get("format") or "csv").lower()
        if fmt not in export.FORMATS:
            raise ValidationError({"format": [_("Choose csv or json.")]})
        actor = Actor.from_request(request)
        filterset = AuditEventFilter(request.query_params, queryset=self.get_queryset(), request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        filters = active_filters(filterset)
        tenant = auditable_tenants(actor).filter(slug=filters["tenant"]).first() if "tenant" in filters else None
        export.record_export(actor=actor, fmt=fmt, filters=filters, tenant=tenant)
        return export.streaming_response(request, filterset.qs, fmt)
