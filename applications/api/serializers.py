"""API representations of applications, components, dependencies, instances and revisions.

Output serializers render rows (secret env as {"NAME": "set"}, never a value). Input serializers
check the top-level shape and JSON types; nested documents (ports, env, config files, resources,
probes, replicas, placement, spec) are JSON whose every rule lives in applications/validation.py
and the services, which name the offending path ("ports[0].port", "components[1].image").
The documentation-only serializers below describe those documents in the OpenAPI schema.
"""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clusters.federation.api.serializers import HealthSerializer, health_out

from ..models import AppInstance, Application, ApplicationDependency, AppRevision, Component, Stack

# --- documents (schema only) ------------------------------------------------------------------


class PortDoc(serializers.Serializer):
    name = serializers.CharField(required=False, help_text=_("IANA service name, e.g. http."))
    port = serializers.IntegerField(min_value=1, max_value=65535)
    protocol = serializers.ChoiceField(choices=["TCP", "UDP", "SCTP"], required=False)


class EnvDoc(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.CharField(allow_blank=True)


class ConfigFileDoc(serializers.Serializer):
    path = serializers.CharField(help_text=_("Absolute path in the container."))
    content = serializers.CharField(allow_blank=True)


class QuantitiesDoc(serializers.Serializer):
    cpu = serializers.CharField(required=False, help_text=_("e.g. 500m or 2"))
    memory = serializers.CharField(required=False, help_text=_("e.g. 512Mi"))
    ephemeral_storage = serializers.CharField(required=False, help_text=_("e.g. 1Gi (key: ephemeral-storage)"))


class ResourcesDoc(serializers.Serializer):
    requests = QuantitiesDoc(required=False)
    limits = QuantitiesDoc(required=False)


class ProbeDoc(serializers.Serializer):
    type = serializers.ChoiceField(choices=["http", "tcp", "exec"])
    path = serializers.CharField(required=False)
    port = serializers.JSONField(required=False, help_text=_("A port number, or the name of one of the ports."))
    command = serializers.ListField(child=serializers.CharField(), required=False)
    initial_delay_seconds = serializers.IntegerField(required=False, min_value=0, max_value=3600)
    period_seconds = serializers.IntegerField(required=False, min_value=1, max_value=3600)
    timeout_seconds = serializers.IntegerField(required=False, min_value=1, max_value=3600)
    failure_threshold = serializers.IntegerField(required=False, min_value=1, max_value=100)


class ReplicasDoc(serializers.Serializer):
    dev = serializers.IntegerField(required=False, min_value=0, max_value=10000)
    test = serializers.IntegerField(required=False, min_value=0, max_value=10000)
    pre = serializers.IntegerField(required=False, min_value=0, max_value=10000)
    prod = serializers.IntegerField(required=False, min_value=0, max_value=10000)


@extend_schema_field(PortDoc(many=True))
class PortsField(serializers.JSONField):
    pass


@extend_schema_field(EnvDoc(many=True))
class EnvField(serializers.JSONField):
    pass


@extend_schema_field(ConfigFileDoc(many=True))
class ConfigFilesField(serializers.JSONField):
    pass


@extend_schema_field(ResourcesDoc)
class ResourcesField(serializers.JSONField):
    pass


@extend_schema_field(ProbeDoc(allow_null=True))
class ProbeField(serializers.JSONField):
    def to_representation(self, value):
        return value or None  # no probe: null, as the schema says


@extend_schema_field(ReplicasDoc)
class ReplicasField(serializers.JSONField):
    pass


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string", "nullable": True}})
class SecretEnvField(serializers.JSONField):
    pass


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string", "enum": ["set"]}})
class SecretEnvOutField(serializers.JSONField):
    pass


# --- applications -----------------------------------------------------------------------------

class ApplicationSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    repository_url = serializers.CharField(read_only=True, help_text=_("A URL, or empty."))
    labels = serializers.DictField(child=serializers.CharField(), read_only=True)
    components = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = ["id", "tenant", "name", "description", "team", "repository_url", "stack", "labels", "components",
                  "created_at", "updated_at"]
        read_only_fields = fields

    def get_components(self, obj) -> list[str]:
        return sorted(c.name for c in obj.components.all())


class ApplicationCreateSerializer(serializers.Serializer):
    tenant = serializers.CharField(help_text=_("Slug of the tenant."))
    name = serializers.CharField(max_length=40, help_text=_("1-40 lowercase letters, digits and dashes."))
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    team = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    repository_url = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    stack = serializers.ChoiceField(choices=Stack.choices, required=False, default=Stack.OTHER)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=200), required=False,
                                   default=dict)


class ApplicationUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    team = serializers.CharField(required=False, allow_blank=True, max_length=100)
    repository_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    stack = serializers.ChoiceField(choices=Stack.choices, required=False)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=200), required=False)


# --- components -------------------------------------------------------------------------------

class ComponentSerializer(serializers.ModelSerializer):
    ports = PortsField()
    env = EnvField()
    secret_env = serializers.SerializerMethodField()
    config_files = ConfigFilesField()
    resources = ResourcesField()
    liveness_probe = ProbeField()
    readiness_probe = ProbeField()
    replicas = ReplicasField()

    class Meta:
        model = Component
        fields = ["name", "workload_kind", "image", "command", "args", "ports", "env", "secret_env", "config_files",
                  "resources", "cpuset_cores", "liveness_probe", "readiness_probe", "replicas", "created_at",
                  "updated_at"]
        read_only_fields = fields

    @extend_schema_field(SecretEnvOutField())
    def get_secret_env(self, obj) -> dict:
        """Names of the secret variables; their values are never shown."""
        return {name: "set" for name in obj.secret_env_names}


class ComponentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40)
    workload_kind = serializers.ChoiceField(choices=Component.WorkloadKind.choices, required=False)
    image = serializers.CharField(max_length=500, help_text=_(
        "acme/payments-api:1.4 (built-in registry) or host/repository:tag; revisions pin it to a digest."))
    command = serializers.ListField(child=serializers.CharField(max_length=4096, allow_blank=True), required=False,
                                    max_length=100)
    args = serializers.ListField(child=serializers.CharField(max_length=4096, allow_blank=True), required=False,
                                 max_length=100)
    ports = PortsField(required=False)
    env = EnvField(required=False)
    secret_env = SecretEnvField(required=False, help_text=_(
        "NAME -> value (stored encrypted, never shown). On a change this is the whole set: null keeps the stored "
        "value, names left out are removed."))
    config_files = ConfigFilesField(required=False)
    resources = ResourcesField(required=False)
    cpuset_cores = serializers.IntegerField(required=False, min_value=0, max_value=256)
    liveness_probe = ProbeField(required=False, allow_null=True)
    readiness_probe = ProbeField(required=False, allow_null=True)
    replicas = ReplicasField(required=False)


# --- dependencies -----------------------------------------------------------------------------

class DependencySerializer(serializers.ModelSerializer):
    application = serializers.CharField(source="application.name", read_only=True)
    depends_on = serializers.CharField(source="depends_on.name", read_only=True)
    depends_on_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = ApplicationDependency
        fields = ["application", "depends_on", "depends_on_id", "created_at"]
        read_only_fields = fields


class DependencyCreateSerializer(serializers.Serializer):
    depends_on = serializers.CharField(max_length=40, help_text=_("Name of another application of the tenant."))


# --- instances --------------------------------------------------------------------------------

class OwnedResourceSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="resource.pk")
    kind = serializers.CharField(source="resource.ftype.kind")
    name = serializers.CharField(source="resource.name")
    role = serializers.CharField()
    component = serializers.CharField()
    revision = serializers.IntegerField(source="revision.number", allow_null=True, default=None)
    health = serializers.SerializerMethodField()
    ready_replicas = serializers.SerializerMethodField()
    desired_replicas = serializers.SerializerMethodField()

    @extend_schema_field(HealthSerializer)
    def get_health(self, obj) -> dict:
        return health_out((obj.resource.status or {}).get("health"))

    def get_ready_replicas(self, obj) -> int | None:
        return ((obj.resource.status or {}).get("totals") or {}).get("readyReplicas") if obj.role == "workload" \
            else None

    def get_desired_replicas(self, obj) -> int | None:
        return ((obj.resource.status or {}).get("totals") or {}).get("desired") if obj.role == "workload" else None


@extend_schema_field({"type": "object", "additionalProperties": True, "description": "Placement document."})
class PlacementField(serializers.JSONField):
    pass


class InstanceSerializer(serializers.ModelSerializer):
    environment = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    environment_kind = serializers.CharField(source="environment.kind", read_only=True)
    placement = PlacementField(read_only=True)
    baseline = serializers.IntegerField(source="baseline.number", read_only=True, allow_null=True, default=None)
    target = serializers.IntegerField(source="target.number", read_only=True, allow_null=True, default=None)
    health = serializers.SerializerMethodField()
    resources = serializers.SerializerMethodField()

    class Meta:
        model = AppInstance
        fields = ["environment", "environment_kind", "placement", "state", "baseline", "target", "applied_at",
                  "health", "resources", "created_at", "updated_at"]
        read_only_fields = fields

    def _links(self, obj):
        from ..selectors import instance_resources

        if not hasattr(obj, "_links"):
            obj._links = instance_resources(obj)
        return obj._links

    @extend_schema_field(HealthSerializer)
    def get_health(self, obj) -> dict:
        """The worst health over the instance's workloads."""
        from ..selectors import instance_health

        return health_out(instance_health(self._links(obj)))

    @extend_schema_field(OwnedResourceSerializer(many=True))
    def get_resources(self, obj):
        return OwnedResourceSerializer(self._links(obj), many=True).data


class InstanceCreateSerializer(serializers.Serializer):
    environment = serializers.CharField(help_text=_("Slug of the tenant's environment."))
    placement = PlacementField(required=False, default=dict)


class InstanceUpdateSerializer(serializers.Serializer):
    placement = PlacementField()


class ApplySerializer(serializers.Serializer):
    revision = serializers.IntegerField(min_value=1, max_value=2**31 - 1,
                                        help_text=_("Number of the revision (of this environment) to apply."))


# --- revisions --------------------------------------------------------------------------------

@extend_schema_field({"type": "object", "additionalProperties": True,
                      "description": "The revision's spec: {components: [...]} with images by digest."})
class SpecField(serializers.JSONField):
    pass


class RevisionSerializer(serializers.ModelSerializer):
    environment = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    spec = SpecField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)
    promoted_from = serializers.SerializerMethodField()
    is_baseline = serializers.SerializerMethodField()

    class Meta:
        model = AppRevision
        fields = ["id", "environment", "number", "spec", "spec_hash", "build", "promoted_from", "is_baseline",
                  "comment", "created_by", "created_at"]
        read_only_fields = fields

    def get_promoted_from(self, obj) -> str | None:
        """"<environment> r<number>" of the revision this one was copied from."""
        source = obj.promoted_from
        return f"{source.environment.slug} r{source.number}" if source else None

    def get_is_baseline(self, obj) -> bool:
        baselines = self.context.get("baselines")
        if baselines is None:
            return AppInstance.objects.filter(baseline=obj).exists()
        return obj.pk in baselines


class RevisionCreateSerializer(serializers.Serializer):
    environment = serializers.CharField(help_text=_("Slug of the tenant's environment."))
    spec = SpecField(required=False, help_text=_(
        "An explicit spec ({components: [...]}, component fields as in the components API, no secret_env); "
        "without it, the components' current settings."))
    build = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1,
                                     help_text=_("Id of the build the images come from."))
    comment = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class PromoteSerializer(serializers.Serializer):
    environment = serializers.CharField(help_text=_("Slug of the next environment (dev -> test -> pre -> prod)."))


class DiffRowSerializer(serializers.Serializer):
    path = serializers.CharField(help_text=_("e.g. components[api].image"))
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
