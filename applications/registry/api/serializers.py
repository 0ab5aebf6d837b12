"""API representations of the registry. External registries' passwords are write-only input:
no output serializer has a field for them (`has_password` says whether one is stored)."""
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import ExternalRegistry, Manifest, Repository, Tag


class RepositorySerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True,
                                          help_text=_("Null for the platform/ namespace (base images)."))
    tags = serializers.IntegerField(source="tag_count", read_only=True)
    size = serializers.IntegerField(read_only=True, help_text=_("Bytes stored: every blob readable in it."))
    pull = serializers.SerializerMethodField(help_text=_("What to give a client: <registry host>/<name>."))

    class Meta:
        model = Repository
        fields = ["id", "name", "tenant", "tags", "size", "last_push_at", "created_at", "pull"]
        read_only_fields = fields

    def get_pull(self, obj) -> str:
        return f"{settings.REGISTRY_HOST}/{obj.name}"


class ReferrerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Manifest
        fields = ["digest", "artifact_type", "media_type", "size", "pushed_at"]
        read_only_fields = fields


class TagSerializer(serializers.ModelSerializer):
    digest = serializers.CharField(source="manifest.digest", read_only=True)
    media_type = serializers.CharField(source="manifest.media_type", read_only=True)
    size = serializers.IntegerField(source="manifest.total_size", read_only=True,
                                    help_text=_("Manifest, config and layers, in bytes."))
    layers = serializers.IntegerField(source="manifest.layer_count", read_only=True)
    pushed_by = serializers.CharField(source="pushed_by_label", read_only=True)
    pushed_at = serializers.DateTimeField(source="updated_at", read_only=True)
    reference = serializers.SerializerMethodField(help_text=_("The image by digest, as clusters are given it."))
    referrers = serializers.SerializerMethodField()

    class Meta:
        model = Tag
        fields = ["name", "digest", "media_type", "size", "layers", "pushed_by", "pushed_at", "reference",
                  "referrers"]
        read_only_fields = fields

    def get_reference(self, obj) -> str:
        return obj.manifest.reference

    @staticmethod
    def _referrers(obj):
        found = getattr(obj, "referrer_list", None)
        if found is None:
            found = list(Manifest.objects.filter(repository_id=obj.repository_id, subject_digest=obj.manifest.digest))
        return found

    @extend_schema_field(ReferrerSerializer(many=True))
    def get_referrers(self, obj):
        return ReferrerSerializer(self._referrers(obj), many=True).data


class ExternalRegistrySerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True,
                                          help_text=_("Null: available to every tenant (platform-wide)."))
    has_password = serializers.BooleanField(read_only=True)

    class Meta:
        model = ExternalRegistry
        fields = ["id", "tenant", "name", "url", "host", "username", "has_password", "insecure", "description",
                  "created_at", "updated_at"]
        read_only_fields = fields


class ExternalRegistryCreateSerializer(serializers.Serializer):
    tenant = serializers.CharField(allow_null=True, required=False, default=None,
                                   help_text=_("The tenant's slug; null (operators only) for a platform-wide entry."))
    name = serializers.CharField(max_length=40)
    url = serializers.CharField(max_length=300, help_text=_("https://host[:port] (http:// for a plain registry)."))
    username = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    password = serializers.CharField(max_length=4096, required=False, allow_blank=True, default="",
                                     write_only=True, trim_whitespace=False,
                                     help_text=_("Stored encrypted; never shown again."))
    insecure = serializers.BooleanField(required=False, default=False,
                                        help_text=_("Skip TLS verification (self-signed certificates)."))
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ExternalRegistryUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40, required=False)
    url = serializers.CharField(max_length=300, required=False)
    username = serializers.CharField(max_length=200, required=False, allow_blank=True)
    password = serializers.CharField(max_length=4096, required=False, allow_blank=True, write_only=True,
                                     trim_whitespace=False, help_text=_("Replaces the stored one; \"\" removes it."))
    insecure = serializers.BooleanField(required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
