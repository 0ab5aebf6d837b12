"""API representations of Dockerfile versions, lint results, diffs and templates.

Input serializers check shape only (strict JSON types, paas.api.strict); the rules live in
the services, parse, lint and templates, whose errors name the offending field.
"""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from applications.models import DockerfileVersion, Stack

from .. import lint, parse
from ..services import MAX_COMMENT, content_hash

MAX_CHARS = parse.MAX_BYTES  # characters; the byte limit is checked again on the text itself


class FindingSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text=_("1-based line the finding is about."))
    severity = serializers.ChoiceField(choices=lint.SEVERITIES, help_text=_("Errors block a build."))
    code = serializers.CharField(help_text=_("hadolint's rule (DL3007, SC2086...) or a platform rule (platform.*)."))
    message = serializers.CharField()
    source = serializers.ChoiceField(choices=["hadolint", "platform", "parser"])


class CountsSerializer(serializers.Serializer):
    error = serializers.IntegerField()
    warning = serializers.IntegerField()
    info = serializers.IntegerField()


class DockerfileVersionSerializer(serializers.ModelSerializer):
    stack = serializers.CharField(read_only=True, help_text=_("The stack template it was generated from "
                                                              "(java, go, python, node, static), or empty."))
    created_by = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    content_sha256 = serializers.SerializerMethodField()

    class Meta:
        model = DockerfileVersion
        fields = ["number", "lint_status", "buildable", "counts", "stack", "comment", "content_sha256",
                  "created_by", "created_at"]
        read_only_fields = fields

    def get_created_by(self, obj) -> str | None:
        return obj.created_by.get_username() if obj.created_by else None

    @extend_schema_field(CountsSerializer)
    def get_counts(self, obj) -> dict:
        return lint.counts_of(obj.findings)

    def get_content_sha256(self, obj) -> str:
        return content_hash(obj.content)


class DockerfileVersionDetailSerializer(DockerfileVersionSerializer):
    findings = FindingSerializer(many=True, read_only=True)

    class Meta(DockerfileVersionSerializer.Meta):
        fields = [*DockerfileVersionSerializer.Meta.fields, "content", "form", "findings"]
        read_only_fields = fields


class DockerfileSaveSerializer(serializers.Serializer):
    content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=MAX_CHARS,
                                    help_text=_("The Dockerfile text to save (at most 64 KiB)."))
    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT, default="")
    stack = serializers.ChoiceField(required=False, choices=Stack.choices,
                                    help_text=_("Without content: generate from this stack's template "
                                                "(java, go, python, node or static)."))
    form = serializers.DictField(required=False, child=serializers.JSONField(),
                                 help_text=_("The template's field values (see GET /dockerfile-templates/); "
                                             "missing fields take their defaults."))

    def validate(self, attrs):
        if "content" not in attrs and "stack" not in attrs:
            raise serializers.ValidationError({"content": [_("Give content, or stack (and form) to generate.")]})
        return attrs


class LintRequestSerializer(serializers.Serializer):
    content = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=MAX_CHARS)
    environment_kind = serializers.ChoiceField(choices=lint.ENVIRONMENT_KINDS, default="dev",
                                               help_text=_("prod: a base image off the allowed list is an error."))


class LintResultSerializer(serializers.Serializer):
    lint_status = serializers.ChoiceField(choices=DockerfileVersion.LintStatus.choices)
    buildable = serializers.BooleanField(help_text=_("False when there are errors: they block a build."))
    counts = CountsSerializer()
    findings = FindingSerializer(many=True)


class DiffQuerySerializer(serializers.Serializer):
    # "from" is a Python keyword: declared below under its query name.
    to = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text=_("The newer version's number."))


DiffQuerySerializer._declared_fields["from"] = serializers.IntegerField(
    min_value=1, max_value=2**31 - 1, help_text=_("The older version's number."))


class DiffRowSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=_("equal, delete, insert or replace."))
    left_line = serializers.IntegerField(allow_null=True)
    left = serializers.CharField(allow_null=True)
    right_line = serializers.IntegerField(allow_null=True)
    right = serializers.CharField(allow_null=True)


class DiffStatsSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    removed = serializers.IntegerField()


class DiffSerializer(serializers.Serializer):
    to = serializers.IntegerField()
    unified = serializers.CharField(help_text=_("As diff -u prints it."))
    stats = DiffStatsSerializer()
    rows = DiffRowSerializer(many=True, help_text=_("Side by side: every line of both versions once."))


DiffSerializer._declared_fields["from"] = serializers.IntegerField()


class TemplateFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField(help_text=_("choice, string, ports, user, healthcheck, env or integer."))
    label = serializers.CharField()
    help = serializers.CharField()
    required = serializers.BooleanField()
    default = serializers.JSONField(allow_null=True)
    choices = serializers.ListField(child=serializers.JSONField())


class BaseImageSerializer(serializers.Serializer):
    reference = serializers.CharField()
    name = serializers.CharField()
    tag = serializers.CharField()
    description = serializers.CharField()
    digest = serializers.CharField()
    allowed_in_prod = serializers.BooleanField()


class StackTemplateSerializer(serializers.Serializer):
    stack = serializers.CharField()
    label = serializers.CharField()
    fields = TemplateFieldSerializer(many=True)
    base_images = BaseImageSerializer(many=True, help_text=_("The allowed base images of this stack."))
