"""API representations of tenants, environments, members, quotas and tokens.

Output serializers render rows. Input serializers only check shape and type;
the rules (slug format, protected environments, last owner, quota limits) live
in tenants.services, which raise DomainError naming the offending field.
"""
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from tenants.models import ApiToken, Environment, Membership, Quota, QuotaRequest, Tenant
from tenants.roles import Role
from tenants.services import QUOTA_FIELDS

TOKEN_STATUSES = [("active", _("Active")), ("expired", _("Expired")), ("revoked", _("Revoked"))]


# --- tenants ----------------------------------------------------------------

class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["slug", "name", "description", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class TenantCreateSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text=_("1-40 lowercase letters, digits and hyphens."))
    name = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True, default="")


class TenantUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, help_text=_("False archives the tenant."))


# --- environments -----------------------------------------------------------

class EnvironmentSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Environment
        fields = ["slug", "name", "kind", "description", "protected", "tenant", "created_at", "updated_at"]
        read_only_fields = fields


class EnvironmentCreateSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text=_("1-40 lowercase letters, digits and hyphens."))
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Environment.Kind.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    protected = serializers.BooleanField(required=False, default=False,
                                         help_text=_("Production environments are always protected."))


class EnvironmentUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    protected = serializers.BooleanField(required=False)


# --- members ----------------------------------------------------------------

class MembershipSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "email", "role", "created_at", "updated_at"]
        read_only_fields = fields


class MemberAddSerializer(serializers.Serializer):
    user = serializers.CharField(help_text=_("Username or e-mail address of an existing account."))
    role = serializers.ChoiceField(choices=Role.choices)


class MemberAddedSerializer(serializers.Serializer):
    user = serializers.CharField(help_text=_("The username or e-mail address as given."))
    role = serializers.ChoiceField(choices=Role.choices)
    detail = serializers.CharField(help_text=_("The same message whether or not such an account exists."))


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


# --- quotas -----------------------------------------------------------------

class QuotaSerializer(serializers.ModelSerializer):
    environment = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Quota
        fields = ["environment", *QUOTA_FIELDS, "updated_at"]
        read_only_fields = fields


class QuotaUpdateSerializer(serializers.Serializer):
    """The limits to set (platform operators only); PATCH may leave fields out, PUT gives all."""

    cpu_millicores = serializers.IntegerField(min_value=0, max_value=Quota.MAX_CPU_MILLICORES)
    memory_mib = serializers.IntegerField(min_value=0, max_value=Quota.MAX_MEMORY_MIB)
    ephemeral_storage_mib = serializers.IntegerField(min_value=0, max_value=Quota.MAX_DISK_MIB)
    exclusive_cpuset_cores = serializers.IntegerField(
        min_value=0, max_value=Quota.MAX_CPU_MILLICORES // 1000,
        help_text=_("Whole cores; each needs 1000 millicores of CPU quota."))
    pods = serializers.IntegerField(min_value=0, max_value=Quota.MAX_PODS)


class QuotaRequestSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    environment = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, allow_null=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, allow_null=True)
    previous = serializers.SerializerMethodField(help_text=_("The quota when the request was made."))

    class Meta:
        model = QuotaRequest
        fields = ["id", "tenant", "environment", "state", *QUOTA_FIELDS, "previous", "reason", "requested_by",
                  "created_at", "decided_by", "decided_at", "comment"]
        read_only_fields = fields

    def get_previous(self, obj) -> dict[str, int]:
        return obj.previous


class QuotaRequestCreateSerializer(QuotaUpdateSerializer):
    """Limits left out keep their current value; at least one must change."""

    environment = serializers.SlugField(help_text=_("Slug of the environment whose quota should change."))
    reason = serializers.CharField(max_length=QuotaRequest.MAX_REASON, help_text=_("Why; operators read this."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in QUOTA_FIELDS:
            self.fields[name].required = False


class QuotaDecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="",
                                    max_length=QuotaRequest.MAX_REASON,
                                    help_text=_("Shown to the tenant; required to reject."))


# --- API tokens -------------------------------------------------------------

class ApiTokenSerializer(serializers.ModelSerializer):
    """A token as lists show it: never its secret, never its hash."""

    user = serializers.CharField(source="user.username", read_only=True)
    status = serializers.ChoiceField(choices=TOKEN_STATUSES, read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scope", "user", "created_at", "expires_at", "last_used_at",
                  "revoked_at", "status"]
        read_only_fields = fields


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    """The answer to a create: the only time the full token is ever shown."""

    token = serializers.SerializerMethodField(
        help_text=_("The full token, shown this once; send it as 'Authorization: Bearer <token>'."))

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields

    def get_token(self, obj) -> str:
        return self.context["plaintext"]


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(help_text=_("What uses the token, e.g. 'ci-deploy'."))
    scope = serializers.ChoiceField(choices=ApiToken.Scope.choices, default=ApiToken.Scope.READ)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
