"""API representations of federated types and resources.

Output serializers render rows (secret values as "***"). Input serializers check
shape only; the rules live in clusters.federation.services / validation, whose
DomainError names the offending field path.
"""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import health, sensitive
from ..models import FederatedResource, FederatedType, Propagation


class FederatedTypeSerializer(serializers.ModelSerializer):
    api_version = serializers.CharField(read_only=True)

    class Meta:
        model = FederatedType
        fields = ["id", "api_version", "group", "version", "kind", "plural", "namespaced", "status_fields",
                  "replicas_path", "sensitive_paths", "source", "enabled", "registered_from", "created_at",
                  "updated_at"]
        read_only_fields = fields


class RegisterCrdSerializer(serializers.Serializer):
    cluster = serializers.CharField(help_text=_("Slug of the member cluster to read the CRD from."))
    crd = serializers.CharField(help_text=_("Name of the CustomResourceDefinition, e.g. widgets.example.com."))


class TypeUpdateSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    sensitive_paths = serializers.ListField(
        child=serializers.CharField(), required=False, max_length=100,
        help_text=_("Dotted paths masked like Secret data, e.g. spec.template.spec.containers[*].env[*].value."))


class HealthSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=health.STATES)
    reason = serializers.CharField(help_text=_("Why, in words (in the request's language)."))


def health_out(value) -> dict:
    """The stored health dict as the API shows it: state + reason in the reader's language."""
    value = value if isinstance(value, dict) else {}
    state = value.get("state") if value.get("state") in health.STATES else health.UNKNOWN
    return {"state": state, "reason": health.reason_text(value)}


class PropagationSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.slug", read_only=True)
    cell = serializers.CharField(source="cluster.cell.slug", read_only=True)
    health = serializers.SerializerMethodField()

    class Meta:
        model = Propagation
        fields = ["cluster", "cell", "state", "dirty", "planned_replicas", "applied_generation", "error", "attempts",
                  "next_attempt_at", "synced_at", "health", "status", "status_updated_at"]
        read_only_fields = fields

    @extend_schema_field(HealthSerializer)
    def get_health(self, obj) -> dict:
        """This cluster's health, from the resource's aggregated status."""
        member = ((obj.resource.status or {}).get("clusters") or {}).get(obj.cluster.slug) or {}
        return health_out(member.get("health"))


class FederatedResourceSerializer(serializers.ModelSerializer):
    environment = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    type = serializers.SerializerMethodField()
    kind = serializers.CharField(source="ftype.kind", read_only=True)
    template = serializers.SerializerMethodField()
    overrides = serializers.SerializerMethodField()
    health = serializers.SerializerMethodField()

    class Meta:
        model = FederatedResource
        fields = ["id", "tenant", "environment", "type", "kind", "name", "template", "placement", "overrides",
                  "generation", "deleting", "health", "status", "status_updated_at", "created_at", "updated_at"]
        read_only_fields = fields

    def get_type(self, obj) -> str:
        return f"{obj.ftype.api_version}/{obj.ftype.kind}"

    @extend_schema_field(HealthSerializer)
    def get_health(self, obj) -> dict:
        """healthy | progressing | degraded | failed | unknown over the clusters, and why
        (naming the clusters); each cluster's is in status.clusters.<slug>.health."""
        return health_out((obj.status or {}).get("health"))

    @extend_schema_field(serializers.JSONField())
    def get_template(self, obj):
        return sensitive.mask(obj.template, sensitive.patterns_for(obj.ftype))

    @extend_schema_field(serializers.JSONField())
    def get_overrides(self, obj):
        return sensitive.mask_overrides(obj.overrides, sensitive.patterns_for(obj.ftype))


class FederatedResourceDetailSerializer(FederatedResourceSerializer):
    propagations = serializers.SerializerMethodField()

    class Meta(FederatedResourceSerializer.Meta):
        fields = [*FederatedResourceSerializer.Meta.fields, "propagations"]
        read_only_fields = fields

    @extend_schema_field(PropagationSerializer(many=True))
    def get_propagations(self, obj):
        rows = obj.propagations.select_related("cluster__cell").order_by("cluster__slug")
        return PropagationSerializer(rows, many=True).data


class DocumentField(serializers.JSONField):
    """JSON, or a YAML/JSON document as a string."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            from django import forms

            from ..forms import parse_document

            try:
                return parse_document(data, empty=None, root=self.field_name)
            except forms.ValidationError as exc:
                raise serializers.ValidationError(exc.messages) from None
        return super().to_internal_value(data)


class FederatedResourceCreateSerializer(serializers.Serializer):
    environment = serializers.CharField(help_text=_("Slug of the tenant's environment."))
    type = serializers.CharField(required=False, help_text=_(
        "apiVersion/kind, e.g. apps/v1/Deployment or v1/Service; defaults to the template's."))
    name = serializers.CharField(required=False, allow_blank=True, help_text=_("Defaults to metadata.name."))
    template = DocumentField(help_text=_("The Kubernetes object (JSON, or a YAML string)."))
    placement = DocumentField(required=False, default=dict)
    overrides = DocumentField(required=False, default=list)


class FederatedResourceUpdateSerializer(serializers.Serializer):
    template = DocumentField(required=False)
    placement = DocumentField(required=False)
    overrides = DocumentField(required=False)


class FederatedResourceChangeSerializer(FederatedResourceUpdateSerializer):
    base_generation = serializers.IntegerField(
        required=False, min_value=1, max_value=2 ** 31 - 1,
        help_text="Apply only if the resource is still at this generation (the one a preview was computed on); "
                  "otherwise 409 stale_preview and nothing is saved.")


class QuotaFiguresSerializer(serializers.Serializer):
    """Per limit (cpu_millicores, memory_mib, ephemeral_storage_mib, pods)."""

    cpu_millicores = serializers.IntegerField()
    memory_mib = serializers.IntegerField()
    ephemeral_storage_mib = serializers.IntegerField()
    pods = serializers.IntegerField()


class PreviewQuotaSerializer(serializers.Serializer):
    extra = QuotaFiguresSerializer(help_text=_("What the change adds in this cluster (negative: frees)."))
    left = QuotaFiguresSerializer(help_text=_("What is left of the quota in this cluster before the change."))
    limit = QuotaFiguresSerializer(help_text=_("The environment's quota, enforced in each cluster."))
    exceeds = serializers.ListField(child=serializers.CharField(), help_text=_("Limits the change would exceed."))
    messages = serializers.ListField(child=serializers.CharField())


class PreviewEntrySerializer(serializers.Serializer):
    cluster = serializers.CharField()
    cell = serializers.CharField()
    action = serializers.ChoiceField(choices=["create", "update", "unchanged", "delete", "absent", "error",
                                              "unknown"])
    replicas = serializers.IntegerField(allow_null=True)
    rendered = serializers.CharField(help_text=_("The object the cluster would hold, as YAML."))
    diff = serializers.CharField(help_text=_("Unified diff from what the cluster holds now."))
    error = serializers.CharField()
    quota = PreviewQuotaSerializer(allow_null=True, help_text=_(
        "The change against the environment's quota in this cluster (null: it runs no pods here)."))
