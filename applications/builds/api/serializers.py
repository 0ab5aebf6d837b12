"""API representations of artifacts, builds and build log lines; input serializers check
shape only (the rules, e.g. lint errors block a build, live in services)."""
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..models import Artifact, Build, BuildLogLine
from ..selectors import LOG_PAGE_MAX


class ArtifactSerializer(serializers.ModelSerializer):
    application = serializers.IntegerField(source="application_id", read_only=True)
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Artifact
        fields = ["id", "application", "filename", "size", "sha256", "uploaded_by", "created_at"]
        read_only_fields = fields


class UploadQuerySerializer(serializers.Serializer):
    filename = serializers.CharField(max_length=255, help_text=_("The artifact's file name, as COPY names it."))
    checksum = serializers.CharField(
        max_length=71, required=False,
        help_text=_("Expected SHA-256 (64 hex digits); also accepted as the X-Checksum-Sha256 header. "
                    "A mismatch is a 400 \"corrupt upload\"."))


class BuildSerializer(serializers.ModelSerializer):
    application = serializers.IntegerField(source="application_id", read_only=True)
    dockerfile = serializers.IntegerField(source="dockerfile.number", read_only=True,
                                          help_text=_("The Dockerfile version number."))
    artifact = ArtifactSerializer(read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    image = serializers.SerializerMethodField()
    duration_seconds = serializers.SerializerMethodField()
    step = serializers.CharField(read_only=True, help_text=_(
        "The step under way, or where the build stopped: prepare, base, layers, push, provenance; "
        "empty while queued."))

    class Meta:
        model = Build
        fields = ["id", "number", "application", "state", "step", "dockerfile", "artifact", "registry", "repository",
                  "tag", "build_args", "image", "image_digest", "image_size", "base_image_digest", "blobs_uploaded",
                  "blobs_reused", "builder", "error", "cancel_requested", "attempts", "log_lines", "created_by",
                  "created_at", "started_at", "finished_at", "duration_seconds"]
        read_only_fields = fields

    def get_image(self, obj) -> str:
        """The image by digest, as a revision names it ("" until the build succeeded)."""
        from ..registry_access import image_host

        if not obj.image_digest:
            return ""
        return f"{image_host(obj)}/{obj.repository}@{obj.image_digest}"

    def get_duration_seconds(self, obj) -> float | None:
        return round(obj.duration.total_seconds(), 3) if obj.duration is not None else None


class BuildDetailSerializer(BuildSerializer):
    provenance = serializers.JSONField(read_only=True, help_text=_("The inputs record pushed next to the image."))

    class Meta(BuildSerializer.Meta):
        fields = [*BuildSerializer.Meta.fields, "provenance", "provenance_digest"]
        read_only_fields = fields


class BuildCreateSerializer(serializers.Serializer):
    dockerfile = serializers.IntegerField(min_value=1, max_value=2_147_483_647,
                                          help_text=_("Version number of the application's Dockerfile."))
    artifact = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False, allow_null=True,
                                        help_text=_("Id of an uploaded artifact of this application."))
    tag = serializers.CharField(max_length=128, help_text=_("Image tag, e.g. 1.4.2."))
    registry = serializers.CharField(max_length=100, required=False, allow_blank=True, default="",
                                     help_text=_("Empty: the built-in registry; else an external registry's id."))
    build_args = serializers.DictField(child=serializers.CharField(max_length=4000, allow_blank=True),
                                       required=False, default=dict, help_text=_("ARG values."))


class LogLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = BuildLogLine
        fields = ["number", "text", "at"]
        read_only_fields = fields


class LogQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, max_value=2_147_483_647, required=False, default=0,
                                     help_text=_("Return the lines numbered above this one (the last one seen)."))
    limit = serializers.IntegerField(min_value=1, max_value=LOG_PAGE_MAX, required=False, default=1000)


class LogSerializer(serializers.Serializer):
    build = serializers.IntegerField(help_text=_("The build's id (as in build.log live events)."))
    state = serializers.ChoiceField(choices=Build.State.choices)
    step = serializers.CharField(help_text=_("As in the build: prepare, base, layers, push, provenance or empty."))
    finished = serializers.BooleanField()
    last = serializers.IntegerField(help_text=_("Number of the build's last line so far."))
    lines = LogLineSerializer(many=True)
