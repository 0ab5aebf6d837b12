"""The registry in the Django admin (platform staff). The built-in registry's records are
read-only here: pushes and deletes go through /v2/, the portal or the API, which check
permissions and audit. External registries are written through the services; their password
is a write-only field (never rendered) and stored encrypted."""
from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from paas.admin import ServiceAdminMixin, admin_actor, adopt

from . import services
from .models import Blob, ExternalRegistry, Manifest, Repository, Tag, Upload


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TagInline(admin.TabularInline):
    model = Tag
    fields = ("name", "manifest", "pushed_by_label", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Repository)
class RepositoryAdmin(ReadOnlyAdmin):
    list_display = ("name", "tenant", "last_push_at", "created_at")
    list_filter = ("tenant",)
    search_fields = ("name",)
    list_select_related = ("tenant",)
    inlines = [TagInline]


@admin.register(Manifest)
class ManifestAdmin(ReadOnlyAdmin):
    list_display = ("repository", "digest", "media_type", "artifact_type", "layer_count", "total_size",
                    "pushed_by_label", "pushed_at")
    list_filter = ("media_type",)
    search_fields = ("digest", "repository__name", "subject_digest")
    list_select_related = ("repository",)
    exclude = ("blobs", "children")


@admin.register(Blob)
class BlobAdmin(ReadOnlyAdmin):
    list_display = ("digest", "size", "created_at", "touched_at")
    search_fields = ("digest",)


@admin.register(Upload)
class UploadAdmin(ReadOnlyAdmin):
    list_display = ("id", "repository", "size", "created_at", "updated_at")
    list_select_related = ("repository",)


class ExternalRegistryForm(forms.ModelForm):
    password = forms.CharField(
        label=_("Password"), required=False, strip=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored encrypted and never shown. On an existing entry, leave it empty to keep the stored one."))
    clear_password = forms.BooleanField(label=_("Remove the stored password"), required=False)

    class Meta:
        model = ExternalRegistry
        fields = ("tenant", "name", "url", "username", "insecure", "description")


@admin.register(ExternalRegistry)
class ExternalRegistryAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = ExternalRegistryForm
    list_display = ("name", "tenant", "host", "username", "insecure", "updated_at")
    list_filter = ("tenant", "insecure")
    search_fields = ("name", "host", "url")
    list_select_related = ("tenant",)
    readonly_fields = ("host", "created_by", "created_at", "updated_at")

    def get_fields(self, request, obj=None):
        fields = ["tenant", "name", "url", "username", "password", "insecure", "description"]
        if obj is not None:
            fields.insert(fields.index("password") + 1, "clear_password")
        return [*fields, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return ("tenant", *self.readonly_fields) if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        actor, data = admin_actor(request), form.cleaned_data
        if not change:
            adopt(obj, services.external_registry_create(
                actor=actor, tenant=data.get("tenant"), name=data["name"], url=data["url"],
                username=data.get("username", ""), password=data.get("password", ""),
                insecure=data.get("insecure", False), description=data.get("description", "")))
            return
        fields = {f: data[f] for f in form.changed_data if f in services.EXTERNAL_FIELDS}
        if data.get("clear_password"):
            fields["password"] = ""
        elif data.get("password"):
            fields["password"] = data["password"]
        services.external_registry_update(actor=actor, registry=ExternalRegistry.objects.get(pk=obj.pk), **fields)

    def delete_model(self, request, obj):
        services.external_registry_delete(actor=admin_actor(request), registry=obj)
