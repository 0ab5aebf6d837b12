"""Dockerfiles in the Django admin: operators edit the allowed base images (every write through
the services, which check and audit); Dockerfile versions are read-only (they are immutable)."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from applications.models import BaseImage, DockerfileVersion
from paas.admin import ServiceAdminMixin, admin_actor, adopt
from tenants.selectors import tenants_visible_to

from . import services


@admin.register(BaseImage)
class BaseImageAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["reference", "stack", "enabled", "allowed_in_prod", "digest", "updated_at"]
    list_filter = ["stack", "enabled", "allowed_in_prod"]
    search_fields = ["name", "tag", "description"]
    fields = list(services.BASE_IMAGE_FIELDS)

    @admin.display(description=_("image"), ordering="name")
    def reference(self, obj):
        return obj.reference

    def save_model(self, request, obj, form, change):
        values = {f: form.cleaned_data.get(f, getattr(obj, f)) for f in services.BASE_IMAGE_FIELDS}
        if change:
            saved = services.base_image_update(actor=admin_actor(request), image=BaseImage.objects.get(pk=obj.pk),
                                               **values)
        else:
            saved = services.base_image_create(actor=admin_actor(request), **values)
        adopt(obj, saved)

    def delete_model(self, request, obj):
        services.base_image_delete(actor=admin_actor(request), image=obj)


@admin.register(DockerfileVersion)
class DockerfileVersionAdmin(admin.ModelAdmin):
    list_display = ["application", "number", "lint_status", "stack", "created_by", "created_at"]
    list_filter = ["lint_status", "stack"]
    search_fields = ["application__name", "application__tenant__slug", "comment"]
    readonly_fields = ["application", "number", "content", "stack", "form", "findings", "lint_status", "comment",
                       "created_by", "created_at"]
    fields = readonly_fields

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("application__tenant", "created_by")
        if request.user.is_superuser:
            return queryset
        return queryset.filter(application__tenant__in=tenants_visible_to(admin_actor(request)))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
