"""Federation in the Django admin: read-only views for operators.

Federated resources are written through the portal or the API (services check
permission, validate, re-plan and audit); types are registered on the
federation types page. Here operators can look, enable/disable types with
an admin action, and edit a type's sensitive paths; both go through the services.
"""
from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from paas.admin import admin_actor, error_message
from paas.errors import DomainError
from paas.permissions import NotPermitted
from tenants.selectors import tenants_visible_to

from . import sensitive, services
from .models import FederatedResource, FederatedType, MemberNamespace, Propagation


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class FederatedTypeForm(forms.ModelForm):
    class Meta:
        model = FederatedType
        fields = ["sensitive_paths"]
        help_texts = {"sensitive_paths": _('A JSON list of dotted paths masked like Secret data, e.g. '
                                           '["spec.template.spec.containers[*].env[*].value"].')}

    def clean_sensitive_paths(self):
        try:
            return sensitive.validate_paths(self.cleaned_data.get("sensitive_paths"))
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(FederatedType)
class FederatedTypeAdmin(ReadOnlyAdmin):
    form = FederatedTypeForm
    list_display = ["kind", "api_version", "plural", "source", "enabled", "registered_from"]
    list_filter = ["source", "enabled"]
    search_fields = ["kind", "group", "plural"]
    actions = ["enable", "disable"]
    fields = ["kind", "group", "version", "plural", "namespaced", "status_fields", "replicas_path", "source",
              "enabled", "registered_from", "sensitive_paths"]
    readonly_fields = [f for f in fields if f != "sensitive_paths"]

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("federation.change_federatedtype")

    def save_model(self, request, obj, form, change):
        # Only sensitive_paths is editable here; the service checks, saves and audits it.
        services.federated_type_set_sensitive_paths(actor=admin_actor(request), ftype=obj,
                                                    paths=form.cleaned_data.get("sensitive_paths"))

    def _set(self, request, queryset, enabled: bool):
        for ftype in queryset:
            try:
                services.federated_type_set_enabled(actor=admin_actor(request), ftype=ftype, enabled=enabled)
            except (DomainError, NotPermitted) as exc:
                self.message_user(request, error_message(exc), messages.ERROR)
                return
        self.message_user(request, gettext("Done."), messages.SUCCESS)

    @admin.action(description=_("Enable for federation"))
    def enable(self, request, queryset):
        self._set(request, queryset, True)

    @admin.action(description=_("Disable for federation"))
    def disable(self, request, queryset):
        self._set(request, queryset, False)


class PropagationInline(admin.TabularInline):
    model = Propagation
    fields = ["cluster", "state", "dirty", "planned_replicas", "applied_generation", "attempts", "error", "synced_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class TenantScoped(ReadOnlyAdmin):
    """Staff who are not superusers see only the tenants the selectors give them."""

    tenant_path = "tenant"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.tenant_path}__in": tenants_visible_to(admin_actor(request))})


@admin.register(FederatedResource)
class FederatedResourceAdmin(TenantScoped):
    list_display = ["name", "ftype", "tenant", "environment", "generation", "deleting", "updated_at"]
    list_filter = ["ftype", "deleting", "tenant"]
    search_fields = ["name", "tenant__slug"]
    exclude = ["template", "overrides"]  # may hold secret values
    inlines = [PropagationInline]


@admin.register(Propagation)
class PropagationAdmin(TenantScoped):
    tenant_path = "resource__tenant"
    list_display = ["resource", "cluster", "state", "dirty", "planned_replicas", "attempts", "synced_at"]
    list_filter = ["state", "dirty", "cluster"]
    search_fields = ["resource__name", "cluster__slug"]


@admin.register(MemberNamespace)
class MemberNamespaceAdmin(TenantScoped):
    tenant_path = "environment__tenant"
    list_display = ["name", "cluster", "environment", "synced_at", "error"]
    list_filter = ["cluster"]
