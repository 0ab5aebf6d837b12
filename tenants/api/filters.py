"""Query-string filters of the tenant API lists (django-filter)."""
import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import ApiToken, Environment, Membership, Quota, QuotaRequest, Tenant
from tenants.roles import Role

from .serializers import TOKEN_STATUSES


class TenantFilter(django_filters.FilterSet):
    class Meta:
        model = Tenant
        fields = ["is_active"]


class EnvironmentFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Environment.Kind.choices)

    class Meta:
        model = Environment
        fields = ["kind", "protected"]


class MembershipFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    user = django_filters.CharFilter(field_name="user__username", label=_("Username"))

    class Meta:
        model = Membership
        fields = ["role", "user"]


class QuotaFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(field_name="environment__kind", choices=Environment.Kind.choices,
                                       label=_("Environment kind"))

    class Meta:
        model = Quota
        fields = ["kind"]


class QuotaRequestFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=QuotaRequest.State.choices)
    tenant = django_filters.CharFilter(field_name="tenant__slug", label=_("Tenant slug"))
    environment = django_filters.CharFilter(field_name="environment__slug", label=_("Environment slug"))

    class Meta:
        model = QuotaRequest
        fields = ["state", "tenant", "environment"]


class ApiTokenFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=TOKEN_STATUSES, method="filter_status")
    scope = django_filters.ChoiceFilter(choices=ApiToken.Scope.choices)
    user = django_filters.CharFilter(field_name="user__username", label=_("Username"))

    class Meta:
        model = ApiToken
        fields = ["status", "scope", "user"]

    def filter_status(self, queryset, name, value):
        # Mirrors ApiToken.status, which is computed, not stored.
        now = timezone.now()
        if value == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if value == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True)
