"""Filters of the audit trail, shared by the page, its export and the API."""
import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent

# Query parameters that are filters (the rest, e.g. cursor/before/format, are not).
FILTER_PARAMS = (
    "actor", "action", "target_type", "target_id", "target", "tenant", "outcome", "since", "until", "request_id",
)


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        field_name="actor_label", lookup_expr="icontains", label=_("Actor"),
        help_text=_("Username or label contains"),
    )
    action = django_filters.CharFilter(
        method="filter_action", label=_("Action"),
        help_text=_("Exact action, or a prefix such as tenant.member"),
    )
    target_type = django_filters.CharFilter(field_name="target_type", label=_("Target type"))
    target_id = django_filters.CharFilter(field_name="target_id", label=_("Target id"))
    target = django_filters.CharFilter(
        field_name="target_label", lookup_expr="icontains", label=_("Target"),
        help_text=_("Target label contains"),
    )
    tenant = django_filters.CharFilter(method="filter_tenant", label=_("Tenant"), help_text=_("Tenant slug"))
    outcome = django_filters.ChoiceFilter(choices=AuditEvent.Outcome.choices, label=_("Outcome"))
    request_id = django_filters.CharFilter(field_name="request_id", label=_("Request id"))
    since = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label=_("Since"), help_text=_("ISO 8601 date and time"),
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lte", label=_("Until"), help_text=_("ISO 8601 date and time"),
    )

    class Meta:
        model = AuditEvent
        fields = list(FILTER_PARAMS)

    def filter_action(self, queryset, name, value):
        value = value.strip().rstrip(".")
        if not value:
            return queryset
        # "tenant.member" matches tenant.member and tenant.member.add, never tenant.membership.
        return queryset.filter(Q(action=value) | Q(action__startswith=value + "."))

    def filter_tenant(self, queryset, name, value):
        from tenants.models import Tenant

        value = value.strip()
        if not value:
            return queryset
        # By id when the tenant still exists (indexed); by the row's slug snapshot otherwise.
        tenant_id = Tenant.objects.filter(slug=value).values_list("pk", flat=True).first()
        if tenant_id is not None:
            return queryset.filter(tenant_id=tenant_id)
        return queryset.filter(tenant_slug=value)


def active_filters(filterset: AuditEventFilter) -> dict:
    """The filters actually applied, as strings (for the export's own audit record)."""
    data = filterset.form.cleaned_data if filterset.is_valid() else {}
    result = {}
    for name in FILTER_PARAMS:
        value = data.get(name)
        if value in (None, ""):
            continue
        result[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return result
