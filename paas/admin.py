"""Shared Django admin building blocks: every admin write leaves an audit event.

- `ServiceAdminMixin`: for models whose writes go through services (which check
  permission and audit themselves). Domain errors become an error message
  instead of a 500, and the bulk "delete selected" action is removed, so every
  deletion goes through `delete_model` and its service.
- `AuditedAdminMixin`: for models without services (users, groups, ...):
  add/change/delete also record `admin.<model>.add|change|delete` audit events.
- `AuditedObjectPermissionsMixin`: guardian's object-permission pages record
  `admin.<model>.permissions` events.

The auth User and Group admins are re-registered here with auditing: granting
staff status, superuser status or permissions is exactly what an audit trail is for.
"""
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.audit.services import audit_record, diff
from paas.errors import DomainError
from paas.models import LoginThrottle
from paas.permissions import NotPermitted


def admin_actor(request) -> Actor:
    return Actor.for_user(request.user)


def snapshot(obj) -> dict:
    """The audited state of an object: its own `audit_fields()`, else its fields
    (foreign keys as ids, many-to-many as labels). Secrets are redacted later."""
    if hasattr(obj, "audit_fields"):
        return obj.audit_fields()
    data = {field.name: field.value_from_object(obj) for field in obj._meta.concrete_fields}
    if obj.pk:
        for field in obj._meta.many_to_many:
            data[field.name] = sorted(str(related) for related in getattr(obj, field.name).all())
    return data


def adopt(instance, saved) -> None:
    """Make the admin's form instance the row a service created, so the admin
    redirects to it and logs it."""
    for field in saved._meta.concrete_fields:
        setattr(instance, field.attname, getattr(saved, field.attname))
    instance._state.adding = False
    instance._state.db = saved._state.db


def error_message(exc) -> str:
    return getattr(exc, "message", None) or str(exc)


class AuditedAdminMixin:
    """Adds an audit event to each admin LogEntry (unless a service already audits)."""

    #: True when save_model/delete_model call services, which write their own events.
    audited_by_service = False

    def audit_action(self, verb: str) -> str:
        return f"admin.{self.model._meta.model_name}.{verb}"

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj._admin_audit_before = snapshot(obj)
        return obj

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        if not self.audited_by_service:
            audit_record(actor=admin_actor(request), action=self.audit_action("add"), target=obj,
                         after=snapshot(obj))
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        if not self.audited_by_service:
            before, after = diff(getattr(obj, "_admin_audit_before", {}), snapshot(obj))
            if after:
                audit_record(actor=admin_actor(request), action=self.audit_action("change"), target=obj,
                             before=before, after=after)
        return entry

    def log_deletions(self, request, queryset):
        # Called before the deletion, while the objects still have their ids.
        entries = super().log_deletions(request, queryset)
        if not self.audited_by_service:
            for obj in queryset:
                audit_record(actor=admin_actor(request), action=self.audit_action("delete"), target=obj,
                             before=snapshot(obj))
        return entries


class ServiceAdminMixin(AuditedAdminMixin):
    audited_by_service = True

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def _refuse(self, request, exc):
        # The admin's transaction has rolled back; nothing was changed.
        self.message_user(request, _("Not saved: %(reason)s") % {"reason": error_message(exc)}, messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (DomainError, NotPermitted) as exc:
            return self._refuse(request, exc)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except (DomainError, NotPermitted) as exc:
            return self._refuse(request, exc)


class AuditedObjectPermissionsMixin:
    """For GuardedModelAdmin: audit grants made on the object-permission pages."""

    def _audited_form(self, request, form_class, who):
        model_name = self.model._meta.model_name

        class AuditedForm(form_class):
            def save_obj_perms(self):
                principal = getattr(self, who)
                label = principal.get_username() if who == "user" else principal.name
                before = sorted(self.get_obj_perms_field_initial())
                with transaction.atomic():
                    super().save_obj_perms()
                    after = sorted(self.cleaned_data[self.get_obj_perms_field_name()])
                    if before != after:
                        audit_record(actor=admin_actor(request), action=f"admin.{model_name}.permissions",
                                     target=self.obj, before={who: label, "permissions": before},
                                     after={who: label, "permissions": after})

        return AuditedForm

    def get_obj_perms_manage_user_form(self, request):
        return self._audited_form(request, super().get_obj_perms_manage_user_form(request), "user")

    def get_obj_perms_manage_group_form(self, request):
        return self._audited_form(request, super().get_obj_perms_manage_group_form(request), "group")


User = get_user_model()

for _model in (User, Group):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(User)
class AuditedUserAdmin(AuditedAdminMixin, UserAdmin):
    pass


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdminMixin, GroupAdmin):
    pass


@admin.register(LoginThrottle)
class LoginThrottleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Sign-in lockout counters (paas.lockout). Read-only; deleting a row lifts its
    lock (an operator unlocking an account), which is audited like any admin delete."""

    list_display = ("kind", "key", "failures", "locked_until", "pending", "updated_at")
    list_filter = ("kind",)
    search_fields = ("key",)
    ordering = ("-updated_at",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
