"""Releases in the Django admin: read-only rows (steps and events inline) for operators; pause,
abort and roll back as admin actions that go through the release services, which check the
acting user's permission on the environment and audit (a refusal is reported per release).
Traffic providers are read-only here; their webhook secrets are never shown."""
from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from applications.admin import ReadOnlyScoped
from paas.admin import ServiceAdminMixin, admin_actor, error_message
from paas.errors import DomainError
from paas.permissions import NotPermitted

from . import services
from .models import Release, ReleaseEvent, ReleaseStep, TrafficProvider


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        # Steps and events are part of the release: whoever may view it sees them.
        return request.user.has_perm("releases.view_release")


class StepInline(_ReadOnlyInline):
    model = ReleaseStep
    fields = ["index", "kind", "name", "group", "state", "manual", "estimate_seconds", "error", "started_at",
              "finished_at"]
    readonly_fields = fields


class EventInline(_ReadOnlyInline):
    model = ReleaseEvent
    fields = ["seq", "kind", "message", "actor", "created_at"]
    readonly_fields = fields
    ordering = ["-seq"]
    max_num = 0


def _each(modeladmin, request, queryset, call, done: str):
    """Run `call(actor, release)` per selected release; report what worked and what was refused."""
    actor, count = admin_actor(request), 0
    for release in queryset:
        try:
            call(actor, release)
            count += 1
        except (DomainError, NotPermitted) as exc:
            modeladmin.message_user(request, f"{release}: {error_message(exc)}", messages.ERROR)
    if count:
        modeladmin.message_user(request, done % {"count": count}, messages.SUCCESS)


@admin.action(description=_("Pause the selected releases"))
def pause(modeladmin, request, queryset):
    _each(modeladmin, request, queryset,
          lambda actor, r: services.release_pause(actor=actor, release=r, reason=gettext("Paused from the admin")),
          gettext("%(count)s paused (or pause requested)."))


@admin.action(description=_("Abort the selected releases"))
def abort(modeladmin, request, queryset):
    _each(modeladmin, request, queryset,
          lambda actor, r: services.release_abort(actor=actor, release=r, reason=gettext("Aborted from the admin")),
          gettext("%(count)s aborted (or abort requested)."))


@admin.action(description=_("Roll back the selected releases"))
def rollback(modeladmin, request, queryset):
    _each(modeladmin, request, queryset,
          lambda actor, r: services.release_rollback(actor=actor, release=r,
                                                     reason=gettext("Rolled back from the admin")),
          gettext("%(count)s rolling back (or rollback requested)."))


@admin.register(Release)
class ReleaseAdmin(ServiceAdminMixin, ReadOnlyScoped):
    list_display = ["__str__", "tenant", "environment", "number", "state", "current_step", "created_by", "created_at"]
    list_filter = ["state", "environment__kind"]
    search_fields = ["instance__application__name", "tenant__slug"]
    exclude = ["lease_token"]
    inlines = [StepInline, EventInline]
    actions = [pause, abort, rollback]


@admin.register(TrafficProvider)
class TrafficProviderAdmin(ReadOnlyScoped):
    tenant_path = "instance__application__tenant"
    list_display = ["name", "kind", "instance", "url", "enabled", "updated_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "instance__application__name"]
    exclude = ["secret"]  # sealed: never shown
