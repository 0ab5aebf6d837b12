"""API representations of releases, their steps, events, pods and traffic providers.

Options and plans are JSON documents whose every rule lives in releases/options.py and
releases/plan.py; the documentation-only serializers below describe them in the OpenAPI schema.
"""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import PodProgress, Release, ReleaseEvent, ReleaseStep, StepTarget, TrafficProvider
from ..options import CONFIRMS, GATE_OPS, GROUPINGS, ON_GATE_FAILURE

# --- documents (schema only) ------------------------------------------------------------------


class BetaDoc(serializers.Serializer):
    pods = serializers.IntegerField(min_value=0, required=False, help_text=_("Pods per workload in the beta cell."))
    cell = serializers.CharField(required=False, allow_null=True, help_text=_("Cell slug; null: the first cell."))


class MetricGateDoc(serializers.Serializer):
    name = serializers.CharField()
    query = serializers.CharField(help_text=_("PromQL; {namespace} and {pods} are filled in per step."))
    op = serializers.ChoiceField(choices=GATE_OPS)
    threshold = serializers.FloatField()


class GatesDoc(serializers.Serializer):
    min_ready_ratio = serializers.FloatField(required=False, min_value=0, max_value=1)
    no_restarts = serializers.BooleanField(required=False)
    prometheus_url = serializers.CharField(required=False, allow_blank=True)
    metrics = MetricGateDoc(many=True, required=False)
    timeout_seconds = serializers.IntegerField(required=False, min_value=1, max_value=3600)


class OptionsDoc(serializers.Serializer):
    beta = BetaDoc(required=False)
    grouping = serializers.ChoiceField(choices=GROUPINGS, required=False)
    batches = serializers.ListField(child=serializers.JSONField(), required=False, help_text=_(
        "Cumulative per group: pod counts (integers) or percentages such as \"50%\"; the last percentage is 100%."))
    confirm = serializers.ChoiceField(choices=CONFIRMS, required=False)
    wait_seconds = serializers.IntegerField(required=False, min_value=0)
    lossless = serializers.BooleanField(required=False)
    drain_seconds = serializers.FloatField(required=False, min_value=0)
    warmup_seconds = serializers.FloatField(required=False, min_value=0)
    gates = GatesDoc(required=False)
    on_gate_failure = serializers.ChoiceField(choices=ON_GATE_FAILURE, required=False)


class PlanTargetDoc(serializers.Serializer):
    cluster = serializers.IntegerField()
    component = serializers.CharField()
    workload_kind = serializers.ChoiceField(choices=[("CloneSet", "CloneSet"), ("Deployment", "Deployment")])
    workload_name = serializers.CharField()
    in_place = serializers.BooleanField()
    desired = serializers.IntegerField(help_text=_("Pods on the target revision once the step is done."))
    total = serializers.IntegerField()


class PlanStepDoc(serializers.Serializer):
    index = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=[("beta", "beta"), ("batch", "batch")])
    name = serializers.CharField()
    group = serializers.CharField()
    manual = serializers.BooleanField()
    wait_seconds = serializers.IntegerField()
    estimate_seconds = serializers.FloatField()
    targets = PlanTargetDoc(many=True)


class PlanWorkloadDoc(serializers.Serializer):
    component = serializers.CharField()
    kind = serializers.ChoiceField(choices=[("CloneSet", "CloneSet"), ("Deployment", "Deployment")])
    name = serializers.CharField()
    resource_id = serializers.IntegerField(allow_null=True)
    in_place = serializers.BooleanField()


class PlanClusterDoc(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    cell = serializers.CharField()
    zone = serializers.CharField()
    region = serializers.CharField()
    pods = serializers.DictField(child=serializers.IntegerField())


class PlanDoc(serializers.Serializer):
    version = serializers.IntegerField()
    in_place = serializers.BooleanField()
    workloads = PlanWorkloadDoc(many=True)
    clusters = PlanClusterDoc(many=True)
    steps = PlanStepDoc(many=True)
    estimate_seconds = serializers.FloatField()


@extend_schema_field(OptionsDoc)
class OptionsField(serializers.JSONField):
    pass


@extend_schema_field(PlanDoc)
class PlanField(serializers.JSONField):
    pass


# --- releases ---------------------------------------------------------------------------------

class ReleaseSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    environment = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    application = serializers.CharField(source="instance.application.name", read_only=True)
    application_id = serializers.IntegerField(source="instance.application_id", read_only=True)
    baseline = serializers.IntegerField(source="baseline.number", read_only=True)
    target = serializers.IntegerField(source="target.number", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)
    steps_total = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = ["id", "tenant", "environment", "application", "application_id", "number", "baseline", "target",
                  "description", "state", "current_step", "steps_total", "pause_requested", "abort_requested",
                  "rollback_requested", "reason", "last_seq", "created_by", "created_at", "started_at",
                  "finished_at", "updated_at"]
        read_only_fields = fields

    def get_steps_total(self, obj) -> int:
        return len((obj.plan or {}).get("steps", []))


class StepTargetSerializer(serializers.ModelSerializer):
    cluster = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = StepTarget
        fields = ["cluster", "component", "workload_kind", "workload_name", "in_place", "desired", "total",
                  "updated", "ready", "state", "error", "started_at", "finished_at"]
        read_only_fields = fields


class StepSerializer(serializers.ModelSerializer):
    targets = StepTargetSerializer(many=True, read_only=True)
    gate_results = serializers.ListField(child=serializers.DictField(), read_only=True)
    confirmed_by = serializers.CharField(source="confirmed_by.username", read_only=True, allow_null=True,
                                         default=None)

    class Meta:
        model = ReleaseStep
        fields = ["index", "kind", "name", "group", "state", "manual", "wait_seconds", "estimate_seconds",
                  "gate_results", "error", "confirmed_by", "started_at", "finished_at", "targets"]
        read_only_fields = fields


class ActionsSerializer(serializers.Serializer):
    start = serializers.BooleanField()
    confirm = serializers.BooleanField()
    pause = serializers.BooleanField()
    resume = serializers.BooleanField()
    abort = serializers.BooleanField()
    rollback = serializers.BooleanField()


class ReleaseDetailSerializer(ReleaseSerializer):
    options = OptionsField(read_only=True)
    plan = PlanField(read_only=True)
    steps = StepSerializer(many=True, read_only=True)
    actions = serializers.SerializerMethodField()

    class Meta(ReleaseSerializer.Meta):
        fields = [*ReleaseSerializer.Meta.fields, "options", "plan", "steps", "actions"]
        read_only_fields = fields

    @extend_schema_field(ActionsSerializer)
    def get_actions(self, obj) -> dict:
        """What the caller may do now (permission and state)."""
        from ..selectors import available_actions

        return available_actions(self.context["actor"], obj)


class ReleaseCreateSerializer(serializers.Serializer):
    application = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text=_("Id of the application."))
    environment = serializers.CharField(max_length=40, help_text=_("Slug of the tenant's environment."))
    target = serializers.IntegerField(min_value=1, max_value=2**31 - 1,
                                      help_text=_("Number of the target revision (of this environment)."))
    options = OptionsField(required=False, default=dict)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class PreviewSerializer(serializers.Serializer):
    application = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    environment = serializers.CharField(max_length=40)
    target = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    options = OptionsField(required=False, default=dict)


class ReleaseReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class ReleaseEventSerializer(serializers.ModelSerializer):
    at = serializers.DateTimeField(source="created_at", read_only=True)
    data = serializers.DictField(read_only=True)

    class Meta:
        model = ReleaseEvent
        fields = ["seq", "kind", "message", "data", "actor", "at"]
        read_only_fields = fields


class EventPageSerializer(serializers.Serializer):
    events = ReleaseEventSerializer(many=True)
    after = serializers.IntegerField(help_text=_("The ?after= asked for."))
    last_seq = serializers.IntegerField(help_text=_("Number of the release's latest event."))
    next = serializers.CharField(allow_null=True, help_text=_("URL of the following page, null when none."))


class ReleasePodSerializer(serializers.ModelSerializer):
    cluster = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    cell = serializers.CharField(source="cluster.cell.slug", read_only=True)

    class Meta:
        model = PodProgress
        fields = ["cluster", "cell", "component", "name", "state", "revision", "restarts", "reason", "updated_at"]
        read_only_fields = fields


# --- traffic providers ----------------------------------------------------------------------

@extend_schema_field({"type": "object", "additionalProperties": {"oneOf": [
    {"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}})
class ConfigField(serializers.JSONField):
    pass


class TrafficProviderSerializer(serializers.ModelSerializer):
    config = ConfigField(read_only=True)
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = TrafficProvider
        fields = ["id", "kind", "name", "url", "config", "enabled", "has_secret", "created_at", "updated_at"]
        read_only_fields = fields

    def get_has_secret(self, obj) -> bool:
        return bool(obj.secret)


class TrafficProviderCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TrafficProvider.Kind.choices)
    name = serializers.CharField(max_length=63)
    url = serializers.CharField(max_length=500)
    config = ConfigField(required=False, default=dict)
    secret = serializers.CharField(required=False, write_only=True, max_length=500,
                                   help_text=_("Webhook signing secret (write-only, never shown again)."))
    enabled = serializers.BooleanField(required=False, default=True)


class TrafficProviderUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(required=False, max_length=500)
    config = ConfigField(required=False)
    secret = serializers.CharField(required=False, write_only=True, max_length=500)
    enabled = serializers.BooleanField(required=False)
