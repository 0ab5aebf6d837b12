"""The cluster registry in the Django admin, for platform operators (model permissions
of the "clusters" app). Every write goes through clusters.services, which check the
platform permission and audit. Credentials are write-only here too: a kubeconfig can
be pasted to register or replace them, and is never shown.
"""
from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from paas.admin import ServiceAdminMixin, admin_actor, adopt, error_message
from paas.errors import DomainError
from paas.permissions import NotPermitted

from . import health, services
from .forms import SecretTextarea
from .models import Cell, Cluster, EnvironmentBinding, PlatformSwitch, Region, Zone


def _each(modeladmin, request, queryset, call, done: str):
    """Run `call(actor, obj)` per selected row; report what worked and what was refused."""
    actor, count = admin_actor(request), 0
    for obj in queryset:
        try:
            call(actor, obj)
            count += 1
        except (DomainError, NotPermitted) as exc:
            modeladmin.message_user(request, f"{obj}: {error_message(exc)}", messages.ERROR)
    if count:
        modeladmin.message_user(request, done % {"count": count}, messages.SUCCESS)


class TopologyAdmin(ServiceAdminMixin, admin.ModelAdmin):
    kind = ""
    editable = ("name", "labels")
    search_fields = ("name", "slug")

    def get_readonly_fields(self, request, obj=None):
        return ("slug", *[f for f in ("region", "zone") if hasattr(self.model, f)], "failed") if obj else ("failed",)

    def save_model(self, request, obj, form, change):
        actor = admin_actor(request)
        if change:
            changed = {f: form.cleaned_data[f] for f in form.changed_data if f in self.editable}
            getattr(services, f"{self.kind}_update")(actor=actor, **{self.kind: obj}, **changed)
            return
        fields = {f: form.cleaned_data.get(f) for f in form.fields if f != "failed"}
        adopt(obj, getattr(services, f"{self.kind}_create")(actor=actor, **fields))

    def delete_model(self, request, obj):
        getattr(services, f"{self.kind}_delete")(actor=admin_actor(request), **{self.kind: obj})


@admin.register(Region)
class RegionAdmin(TopologyAdmin):
    kind = "region"
    editable = ("name", "labels", "description")
    list_display = ("name", "slug")
    fields = ("name", "slug", "labels", "description")

    def get_readonly_fields(self, request, obj=None):
        return ("slug",) if obj else ()


@admin.action(description=_("Mark failed (DR drill)"))
def mark_failed(modeladmin, request, queryset):
    _each(modeladmin, request, queryset,
          lambda actor, obj: getattr(services, f"{modeladmin.kind}_mark_failed")(actor=actor, **{modeladmin.kind: obj}),
          gettext("%(count)s marked failed."))


@admin.action(description=_("Mark recovered"))
def mark_recovered(modeladmin, request, queryset):
    _each(modeladmin, request, queryset,
          lambda actor, obj: getattr(services, f"{modeladmin.kind}_mark_recovered")(actor=actor,
                                                                                   **{modeladmin.kind: obj}),
          gettext("%(count)s marked recovered."))


@admin.register(Zone)
class ZoneAdmin(TopologyAdmin):
    kind = "zone"
    list_display = ("name", "slug", "region", "failed")
    list_filter = ("failed", "region")
    fields = ("region", "name", "slug", "labels", "failed")
    actions = [mark_failed, mark_recovered]


@admin.register(Cell)
class CellAdmin(TopologyAdmin):
    kind = "cell"
    list_display = ("name", "slug", "zone", "failed")
    list_filter = ("failed", "zone__region")
    fields = ("zone", "name", "slug", "labels", "failed")
    actions = [mark_failed, mark_recovered]


class ClusterAdminForm(forms.ModelForm):
    kubeconfig = forms.CharField(
        label=_("Kubeconfig"), required=False, strip=False, widget=SecretTextarea(attrs={"rows": 8, "cols": 80}),
        help_text=_("Required to register; on an existing cluster, paste one only to replace its credentials. "
                    "Stored encrypted and never shown."))

    class Meta:
        model = Cluster
        fields = ("cell", "name", "slug", "labels", "weight")


def _cluster_action(service_name: str, label, done):
    def run(modeladmin, request, queryset):
        _each(modeladmin, request, queryset,
              lambda actor, obj: getattr(services, service_name)(actor=actor, cluster=obj), str(done))

    run.__name__ = service_name
    return admin.action(description=label)(run)


@admin.action(description=_("Check health now"))
def check_health(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, lambda actor, obj: health.check_cluster(obj.pk, actor=actor),
          gettext("%(count)s checked."))


@admin.register(Cluster)
class ClusterAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = ClusterAdminForm
    list_display = ("name", "slug", "cell", "health", "kube_version", "node_count", "pod_count", "cordoned",
                    "propagation_paused", "last_checked_at")
    list_filter = ("health", "cordoned", "propagation_paused", "cell__zone__region")
    search_fields = ("name", "slug", "server")
    list_select_related = ("cell__zone__region",)
    readonly_fields = ("server", "cordoned", "propagation_paused", "health", "kube_version", "node_count",
                       "pod_count", "last_error", "last_checked_at", "created_at", "updated_at")
    actions = [
        _cluster_action("cluster_cordon", _("Cordon"), _("%(count)s cordoned.")),
        _cluster_action("cluster_uncordon", _("Uncordon"), _("%(count)s uncordoned.")),
        _cluster_action("cluster_pause_propagation", _("Stop propagation"), _("Propagation stopped to %(count)s.")),
        _cluster_action("cluster_resume_propagation", _("Resume propagation"),
                        _("Propagation resumed to %(count)s.")),
        check_health,
    ]

    def get_fields(self, request, obj=None):
        return ("cell", "name", "slug", "labels", "weight", "kubeconfig", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return ("slug", *self.readonly_fields) if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        actor, data = admin_actor(request), form.cleaned_data
        if not change:
            adopt(obj, services.cluster_register(
                actor=actor, cell=data["cell"], name=data["name"], slug=data["slug"], labels=data["labels"],
                weight=data["weight"], kubeconfig_text=data["kubeconfig"]))
            return
        changed = {f: data[f] for f in form.changed_data if f in ("cell", "name", "labels", "weight")}
        current = Cluster.objects.get(pk=obj.pk)
        if changed:
            current = services.cluster_update(actor=actor, cluster=current, **changed)
        if data.get("kubeconfig", "").strip():
            services.cluster_replace_credentials(actor=actor, cluster=current, kubeconfig_text=data["kubeconfig"])

    def delete_model(self, request, obj):
        services.cluster_remove(actor=admin_actor(request), cluster=obj)


@admin.register(EnvironmentBinding)
class EnvironmentBindingAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ("environment", "cell", "cluster", "created_at")
    list_select_related = ("environment__tenant", "cell", "cluster")
    list_filter = ("environment__tenant", "environment__kind")
    fields = ("environment", "cell", "cluster")

    def has_change_permission(self, request, obj=None):
        return False  # a binding is added or removed, never edited

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        adopt(obj, services.environment_bind(actor=admin_actor(request), environment=data["environment"],
                                             cell=data.get("cell"), cluster=data.get("cluster")))

    def delete_model(self, request, obj):
        services.environment_unbind(actor=admin_actor(request), binding=obj)


@admin.register(PlatformSwitch)
class PlatformSwitchAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "reason", "changed_by", "changed_at")
    fields = ("propagation_paused", "reason", "changed_by", "changed_at")
    readonly_fields = ("changed_by", "changed_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("clusters.stop_all_propagation")

    def save_model(self, request, obj, form, change):
        actor, data = admin_actor(request), form.cleaned_data
        if data["propagation_paused"]:
            services.platform_stop_propagation(actor=actor, reason=data["reason"])
        else:
            services.platform_resume_propagation(actor=actor, reason=data["reason"])
