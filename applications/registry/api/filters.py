"""Query-string filters of the registry API lists."""
import django_filters
from django.utils.translation import gettext_lazy as _

from ..models import ExternalRegistry, Repository


class RepositoryFilter(django_filters.FilterSet):
    tenant = django_filters.CharFilter(field_name="tenant__slug", label=_("Tenant slug"))
    platform = django_filters.BooleanFilter(field_name="tenant", lookup_expr="isnull",
                                            label=_("Only the platform/ namespace (true) or only tenants' (false)"))

    class Meta:
        model = Repository
        fields = ["tenant", "name", "platform"]


class ExternalRegistryFilter(django_filters.FilterSet):
    tenant = django_filters.CharFilter(field_name="tenant__slug", label=_("Tenant slug"))
    platform = django_filters.BooleanFilter(field_name="tenant", lookup_expr="isnull",
                                            label=_("Only platform-wide entries (true) or only tenants' (false)"))

    class Meta:
        model = ExternalRegistry
        fields = ["tenant", "name", "host", "platform"]
