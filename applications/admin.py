"""Applications in the Django admin: read-only for operators (every change goes through the
portal or the API, whose services check permission, validate and audit). Deleting an
application here goes through its service, so its instances' objects leave the clusters too.
Secret values are never shown (components show the names only)."""
from django.contrib import admin

from paas.admin import ServiceAdminMixin, admin_actor
from tenants.selectors import tenants_visible_to

from . import services
from .models import AppInstance, Application, ApplicationDependency, AppRevision, Component, InstanceResource


class ReadOnlyScoped(admin.ModelAdmin):
    """No adds or changes; staff who are not superusers see only the tenants they may see."""

    tenant_path = "tenant"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.tenant_path}__in": tenants_visible_to(admin_actor(request))})


class ComponentInline(admin.TabularInline):
    model = Component
    fields = ["name", "workload_kind", "image", "cpuset_cores", "secret_env_names", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Application)
class ApplicationAdmin(ServiceAdminMixin, ReadOnlyScoped):
    list_display = ["name", "tenant", "team", "stack", "created_at"]
    list_filter = ["stack", "tenant"]
    search_fields = ["name", "team", "tenant__slug"]
    inlines = [ComponentInline]

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("applications.delete_application")

    def delete_model(self, request, obj):
        services.application_delete(actor=admin_actor(request), application=obj)


@admin.register(Component)
class ComponentAdmin(ReadOnlyScoped):
    tenant_path = "application__tenant"
    list_display = ["name", "application", "workload_kind", "image", "updated_at"]
    list_filter = ["workload_kind"]
    search_fields = ["name", "application__name", "image"]
    exclude = ["secret_env"]  # sealed values: the names are shown instead


@admin.register(ApplicationDependency)
class ApplicationDependencyAdmin(ReadOnlyScoped):
    tenant_path = "application__tenant"
    list_display = ["application", "depends_on", "created_at"]
    search_fields = ["application__name", "depends_on__name"]


class InstanceResourceInline(admin.TabularInline):
    model = InstanceResource
    fields = ["resource", "component", "role", "revision"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AppInstance)
class AppInstanceAdmin(ReadOnlyScoped):
    tenant_path = "application__tenant"
    list_display = ["application", "environment", "state", "baseline", "target", "applied_at"]
    list_filter = ["state", "environment__kind"]
    search_fields = ["application__name"]
    inlines = [InstanceResourceInline]


@admin.register(AppRevision)
class AppRevisionAdmin(ReadOnlyScoped):
    tenant_path = "application__tenant"
    list_display = ["application", "environment", "number", "spec_hash", "build", "promoted_from", "created_by",
                    "created_at"]
    list_filter = ["environment__kind"]
    search_fields = ["application__name", "spec_hash"]
    exclude = ["secret_values"]
