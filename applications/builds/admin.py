"""Builds in the Django admin: read-only for operators (builds are started and cancelled
through the portal and the API, whose services check permission and audit)."""
from django.contrib import admin

from paas.admin import admin_actor
from tenants.selectors import tenants_visible_to

from .models import Artifact, Build


class ReadOnlyTenantAdmin(admin.ModelAdmin):
    """Nothing is written here; staff who are not superusers see only the tenants they may see."""

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
        return queryset.filter(tenant__in=tenants_visible_to(admin_actor(request)))


@admin.register(Artifact)
class ArtifactAdmin(ReadOnlyTenantAdmin):
    list_display = ["filename", "application", "size", "sha256", "uploaded_by", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["filename", "sha256", "application__name"]


@admin.register(Build)
class BuildAdmin(ReadOnlyTenantAdmin):
    list_display = ["__str__", "state", "step", "tag", "image_digest", "attempts", "created_by", "created_at"]
    list_filter = ["state", "tenant"]
    search_fields = ["application__name", "tag", "image_digest"]
