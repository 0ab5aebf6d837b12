"""The audit trail in the Django admin: read-only for everyone, superusers included."""
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from paas.actors import Actor

from .access import may_audit
from .labels import action_label
from .models import AuditEvent
from .selectors import audit_events_visible_to


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "actor_type", "actor_label", "tenant_slug", "action_words", "target_label",
                    "outcome", "request_id")
    list_display_links = ("id", "created_at")
    list_filter = ("outcome", "actor_type")
    search_fields = ("actor_label", "action", "target_label", "target_id", "tenant_slug", "request_id")
    date_hierarchy = "created_at"
    ordering = ("-id",)
    list_per_page = 100
    show_full_result_count = False  # COUNT(*) over millions of rows on every page is not worth it
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    @admin.display(description=_("action"), ordering="action")
    def action_words(self, event):
        return format_html('{} <code class="small">{}</code>', action_label(event.action), event.action)

    def get_queryset(self, request):
        if request.user.is_superuser:
            return super().get_queryset(request)
        return audit_events_visible_to(Actor.for_user(request.user)).order_by("-id")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        user = request.user
        return user.is_active and user.is_staff and may_audit(Actor.for_user(user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
