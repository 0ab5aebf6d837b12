"""Tenants in the Django admin, for platform operators.

Every write goes through tenants.services (which check permission and audit);
object-level rights use the same vocabulary as pages and API (paas.permissions),
and staff who are not superusers only see what the selectors give them.
"""
from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from guardian.admin import GuardedModelAdmin

from paas.admin import AuditedObjectPermissionsMixin, ServiceAdminMixin, admin_actor, adopt, error_message
from paas.errors import DomainError
from paas.permissions import NotPermitted, can, can_create_tenant, can_platform

from . import quota_requests, selectors, services
from .models import ApiToken, Environment, Membership, Quota, QuotaRequest, Tenant
from .roles import Role


class TenantScopedAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Querysets through a selector; object rights through `can(actor, codename, obj)`."""

    selector = None  # staticmethod(selectors.<x>_visible_to)
    change_codename = None  # the tenant permission that allows changing/deleting one object

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk__in=self.selector(admin_actor(request)).values("pk"))

    def may(self, request, obj, codename=None) -> bool:
        return obj is None or can(admin_actor(request), codename or self.change_codename, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.may(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.may(request, obj)

    def limit_tenants(self, request, field, codename):
        if not request.user.is_superuser:
            field.queryset = selectors.tenants_with_permission(admin_actor(request), codename)
        return field


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    # Tenant permissions derive from membership roles: they are managed on
    # memberships, not as guardian object permissions here.
    selector = staticmethod(selectors.tenants_visible_to)
    change_codename = "change_tenant"
    list_display = ("name", "slug", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "slug")
    fields = ("name", "slug", "description", "is_active", "created_at", "updated_at")
    readonly_fields = ("created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("slug",) if obj else ("is_active",))

    def has_add_permission(self, request):
        return super().has_add_permission(request) and can_create_tenant(admin_actor(request))

    def has_delete_permission(self, request, obj=None):
        return False  # archive (is_active) instead: a tenant's history must stay attached

    def save_model(self, request, obj, form, change):
        actor = admin_actor(request)
        if change:
            editable = {"name", "description", "is_active"}
            services.tenant_update(actor=actor, tenant=obj,
                                   **{f: form.cleaned_data[f] for f in form.changed_data if f in editable})
        else:
            adopt(obj, services.tenant_create(actor=actor, name=obj.name, slug=obj.slug,
                                              description=obj.description))


class EnvironmentForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        if data.get("kind") == Environment.Kind.PROD:
            data["protected"] = True  # as Environment.save() would; the constraint is checked before
        return data


@admin.register(Environment)
class EnvironmentAdmin(AuditedObjectPermissionsMixin, TenantScopedAdmin, GuardedModelAdmin):
    # Object permissions fit here: e.g. letting one developer release into one environment.
    selector = staticmethod(selectors.environments_visible_to)
    change_codename = "manage_environments"
    form = EnvironmentForm
    list_display = ("__str__", "name", "kind", "protected", "updated_at")
    list_filter = ("kind", "protected")
    search_fields = ("name", "slug", "tenant__slug")
    list_select_related = ("tenant",)
    fields = ("tenant", "name", "slug", "kind", "description", "protected")

    def get_readonly_fields(self, request, obj=None):
        return ("tenant", "slug", "kind") if obj else ()

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.protected)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return self.limit_tenants(request, field, "manage_environments") if db_field.name == "tenant" else field

    def save_model(self, request, obj, form, change):
        actor = admin_actor(request)
        if change:
            editable = {"name", "description", "protected"}
            services.environment_update(actor=actor, environment=obj,
                                        **{f: form.cleaned_data[f] for f in form.changed_data if f in editable})
        else:
            adopt(obj, services.environment_create(
                actor=actor, tenant=obj.tenant, name=obj.name, slug=obj.slug, kind=obj.kind,
                description=obj.description, protected=obj.protected))

    def get_deleted_objects(self, objs, request):
        # The service's manage_environments check covers the environment's own quota,
        # which is deleted with it (and has no delete permission of its own here).
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, perms_needed - {str(Quota._meta.verbose_name)}, protected

    def delete_model(self, request, obj):
        services.environment_delete(actor=admin_actor(request), environment=obj)


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    selector = staticmethod(selectors.memberships_visible_to)
    change_codename = "manage_members"
    list_display = ("user", "tenant", "role", "updated_at")
    list_filter = ("role",)
    search_fields = ("user__username", "user__email", "tenant__slug")
    list_select_related = ("user", "tenant")
    autocomplete_fields = ("user",)
    fields = ("tenant", "user", "role")

    def get_readonly_fields(self, request, obj=None):
        return ("tenant", "user") if obj else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return self.limit_tenants(request, field, "manage_members") if db_field.name == "tenant" else field

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = super().get_form(request, obj, change=change, **kwargs)
        actor = admin_actor(request)

        class MembershipForm(base):
            def clean(self):
                data = super().clean()
                tenant = obj.tenant if obj else data.get("tenant")
                roles = {data.get("role"), obj.role if obj else None}
                if tenant is not None and Role.OWNER in roles and not can(actor, "manage_owners", tenant):
                    raise forms.ValidationError(_("Only those who may manage owners can grant or revoke the "
                                                  "owner role."))
                return data

        return MembershipForm

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        if allowed and obj is not None and obj.role == Role.OWNER:
            return self.may(request, obj, "manage_owners")
        return allowed

    def save_model(self, request, obj, form, change):
        actor = admin_actor(request)
        if change:
            # The form has already set the new role on `obj`; the service needs the stored one.
            stored = Membership.objects.select_related("tenant", "user").get(pk=obj.pk)
            services.member_change_role(actor=actor, membership=stored, role=form.cleaned_data["role"])
        else:
            adopt(obj, services.member_add(actor=actor, tenant=obj.tenant, user=obj.user, role=obj.role))

    def delete_model(self, request, obj):
        services.member_remove(actor=admin_actor(request), membership=obj)


@admin.register(Quota)
class QuotaAdmin(TenantScopedAdmin):
    """Staff who are tenant members see their quotas read-only; only platform operators
    (tenants.set_quota) change them, as in the portal and the API."""

    selector = staticmethod(selectors.quotas_visible_to)
    list_display = ("environment", "cpu_millicores", "memory_mib", "ephemeral_storage_mib",
                    "exclusive_cpuset_cores", "pods", "updated_at")
    list_select_related = ("tenant", "environment")
    search_fields = ("tenant__slug", "environment__slug")
    readonly_fields = ("tenant", "environment", "updated_at")
    fields = ("tenant", "environment", *services.QUOTA_FIELDS, "updated_at")

    def has_change_permission(self, request, obj=None):
        return (admin.ModelAdmin.has_change_permission(self, request, obj)
                and can_platform(admin_actor(request), services.SET_QUOTA))

    def has_add_permission(self, request):
        return False  # every environment gets its quota when it is created

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.quota_update(actor=admin_actor(request), quota=obj,
                              **{f: form.cleaned_data[f] for f in form.changed_data if f in services.QUOTA_FIELDS})


@admin.register(QuotaRequest)
class QuotaRequestAdmin(TenantScopedAdmin):
    """Read-only: requests are made and decided in the portal or the API (a rejection needs
    a comment for the tenant). Operators may approve from here in bulk, through the service."""

    selector = staticmethod(selectors.quota_requests_visible_to)
    list_display = ("id", "tenant", "environment", "state", "requested_by", "created_at", "decided_by",
                    "decided_at")
    list_filter = ("state",)
    list_select_related = ("tenant", "environment", "requested_by", "decided_by")
    search_fields = ("tenant__slug", "environment__slug", "reason")
    readonly_fields = ("tenant", "environment", "state", *services.QUOTA_FIELDS, "previous", "reason",
                       "requested_by", "created_at", "decided_by", "decided_at", "comment")
    fields = readonly_fields
    actions = ["approve"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_approve_permission(self, request):
        return self.has_view_permission(request) and can_platform(admin_actor(request), services.SET_QUOTA)

    @admin.action(description=_("Approve selected pending quota requests"), permissions=["approve"])
    def approve(self, request, queryset):
        actor = admin_actor(request)
        approved = 0
        for quota_request in queryset.filter(state=QuotaRequest.State.PENDING).select_related("environment"):
            try:
                quota_requests.quota_request_approve(actor=actor, request=quota_request)
                approved += 1
            except (DomainError, NotPermitted) as exc:
                self.message_user(request, f"{quota_request.environment}: {error_message(exc)}", messages.ERROR)
        if approved:
            self.message_user(request, gettext("Approved %(count)d quota request(s).") % {"count": approved},
                              messages.SUCCESS)


@admin.register(ApiToken)
class ApiTokenAdmin(TenantScopedAdmin):
    """Read-only (the secret's hash is never shown); the one write is revoking."""

    selector = staticmethod(selectors.tokens_visible_to)
    change_codename = "manage_api_tokens"
    list_display = ("name", "prefix", "user", "tenant", "scope", "status", "created_at", "expires_at",
                    "last_used_at", "revoked_at")
    list_filter = ("scope",)
    list_select_related = ("user", "tenant")
    search_fields = ("name", "prefix", "user__username", "tenant__slug")
    exclude = ("key_hash",)
    readonly_fields = ("name", "prefix", "user", "tenant", "scope", "created_at", "expires_at",
                       "last_used_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # tokens belong to the person who creates them, in the portal

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return self.has_view_permission(request)

    @admin.display(description=_("status"))
    def status(self, obj):
        return obj.status

    @admin.action(description=_("Revoke selected API tokens"), permissions=["revoke"])
    def revoke(self, request, queryset):
        actor = admin_actor(request)
        revoked, refused = 0, []
        for token in queryset.select_related("user", "tenant"):
            if token.revoked_at:
                continue
            try:
                services.token_revoke(actor=actor, token=token)
                revoked += 1
            except NotPermitted as exc:  # recorded as a denied attempt by the service
                refused.append(f"{token}: {error_message(exc)}")
        if revoked:
            self.message_user(request, gettext("Revoked %(count)d API token(s).") % {"count": revoked},
                              messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)
