"""API representations of the cluster registry.

Output serializers never include credentials: Cluster.credentials is simply not a
field anywhere here, and the kubeconfig of a registration is a write-only input.
Input serializers check shape; clusters.services decides what is allowed.
"""
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from clusters.models import BindingRequest, Cell, Cluster, EnvironmentBinding, PlatformSwitch, Region, Zone

LABELS_HELP = _("Kubernetes-style labels, e.g. {\"env-tier\": \"prod\"}.")


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["slug", "name", "labels", "description"]
        read_only_fields = fields


class RegionCreateSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict,
                                   help_text=LABELS_HELP)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class RegionUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class ZoneSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Zone
        fields = ["slug", "name", "region", "labels", "failed"]
        read_only_fields = fields


class ZoneCreateSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    region = serializers.SlugRelatedField(slug_field="slug", queryset=Region.objects.all())
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)


class TopologyUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)


class CellSerializer(serializers.ModelSerializer):
    zone = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    region = serializers.CharField(source="zone.region.slug", read_only=True)
    queue = serializers.CharField(read_only=True, help_text=_("Celery queue of this cell's cluster work."))

    class Meta:
        model = Cell
        fields = ["slug", "name", "zone", "region", "labels", "failed", "queue"]
        read_only_fields = fields


class CellCreateSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    zone = serializers.SlugRelatedField(slug_field="slug", queryset=Zone.objects.all())
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)


class ClusterSerializer(serializers.ModelSerializer):
    cell = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    zone = serializers.CharField(source="cell.zone.slug", read_only=True)
    region = serializers.CharField(source="cell.zone.region.slug", read_only=True)
    schedulable = serializers.BooleanField(read_only=True)

    class Meta:
        model = Cluster
        fields = ["slug", "name", "cell", "zone", "region", "server", "labels", "weight", "cordoned",
                  "propagation_paused", "schedulable", "health", "kube_version", "node_count", "pod_count",
                  "last_error", "last_checked_at", "created_at", "updated_at"]
        read_only_fields = fields


class ClusterRegisterSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    cell = serializers.SlugRelatedField(slug_field="slug", queryset=Cell.objects.all())
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict,
                                   help_text=LABELS_HELP)
    weight = serializers.IntegerField(required=False, default=1, min_value=0, max_value=1000)
    kubeconfig = serializers.CharField(write_only=True, trim_whitespace=False,
                                       help_text=_("The kubeconfig (YAML). Stored encrypted; never returned."))
    probe = serializers.BooleanField(required=False, default=True,
                                     help_text=_("Refuse unless the API server answers with these credentials."))


class ClusterUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    cell = serializers.SlugRelatedField(slug_field="slug", queryset=Cell.objects.all(), required=False)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    weight = serializers.IntegerField(required=False, min_value=0, max_value=1000)


class CredentialsSerializer(serializers.Serializer):
    kubeconfig = serializers.CharField(write_only=True, trim_whitespace=False,
                                       help_text=_("The new kubeconfig (YAML). Stored encrypted; never returned."))
    probe = serializers.BooleanField(required=False, default=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000,
                                   help_text=_("Recorded in the audit trail."))


class PlatformSwitchSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlatformSwitch
        fields = ["propagation_paused", "reason", "changed_by", "changed_at"]
        read_only_fields = fields


class PlatformSwitchInputSerializer(serializers.Serializer):
    propagation_paused = serializers.BooleanField(help_text=_("true stops all propagation; false resumes it."))
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000,
                                   help_text=_("Required when stopping."))


class BindingSerializer(serializers.ModelSerializer):
    tenant = serializers.CharField(source="environment.tenant.slug", read_only=True)
    environment = serializers.CharField(source="environment.slug", read_only=True)
    # A binding names either a cell or a cluster; the other is null.
    cell = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    cluster = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = EnvironmentBinding
        fields = ["id", "tenant", "environment", "cell", "cluster", "created_at"]
        read_only_fields = fields


class BindingCreateSerializer(serializers.Serializer):
    tenant = serializers.CharField()
    environment = serializers.CharField()
    cell = serializers.CharField(required=False, help_text=_("Slug of a cell (or give cluster)."))
    cluster = serializers.CharField(required=False, help_text=_("Slug of a cluster (or give cell)."))


class ImpactQuerySerializer(serializers.Serializer):
    failed = serializers.BooleanField(required=False, default=True,
                                      help_text=_("Preview marking it failed (true) or recovered (false)."))


class ImpactSerializer(serializers.Serializer):
    """What marking a cell or zone failed / recovered would move (nothing is changed)."""

    kind = serializers.CharField()
    slug = serializers.CharField()
    failed = serializers.BooleanField()
    moves = serializers.ListField(child=serializers.DictField(), help_text=_(
        "Per federated resource: before/after replicas per cluster, from/to, and mode: make-before-break, "
        "break-before-make (an unreachable source), removal (no cluster takes over) or immediate."))
    capacity = serializers.ListField(child=serializers.DictField())
    quotas = serializers.ListField(child=serializers.DictField())
    break_before_make = serializers.BooleanField()
    replicas_lost = serializers.BooleanField()
    ok = serializers.BooleanField(help_text=_("Every target cluster has room and every quota allows the surge."))


class BindingRequestSerializer(serializers.ModelSerializer):
    tenant = serializers.CharField(source="environment.tenant.slug", read_only=True)
    environment = serializers.CharField(source="environment.slug", read_only=True)
    cell = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    cluster = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, allow_null=True,
                                         default=None)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, allow_null=True,
                                       default=None)
    # Plain text: the same values as a quota request's state, which already names the enum.
    state = serializers.CharField(read_only=True, help_text=_("pending, approved, rejected or cancelled."))

    class Meta:
        model = BindingRequest
        fields = ["id", "tenant", "environment", "cell", "cluster", "state", "reason", "requested_by",
                  "created_at", "decided_by", "decided_at", "comment"]
        read_only_fields = fields


class BindingRequestCreateSerializer(BindingCreateSerializer):
    reason = serializers.CharField(max_length=2000, help_text=_("Why; platform operators read it."))


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000,
                                    help_text=_("For the tenant; required to reject."))
