"""Seed the built-in federated types: Deployments, Services, ConfigMaps, Secrets."""
from django.db import migrations

DEPLOYMENT_STATUS = ["status.replicas", "status.updatedReplicas", "status.readyReplicas",
                     "status.availableReplicas", "status.unavailableReplicas", "status.observedGeneration",
                     "status.conditions"]

BUILTIN = [
    {"group": "apps", "version": "v1", "kind": "Deployment", "plural": "deployments",
     "status_fields": DEPLOYMENT_STATUS, "replicas_path": "spec.replicas"},
    {"group": "", "version": "v1", "kind": "Service", "plural": "services",
     "status_fields": ["spec.clusterIP", "status.loadBalancer", "status.conditions"], "replicas_path": ""},
    {"group": "", "version": "v1", "kind": "ConfigMap", "plural": "configmaps", "status_fields": [],
     "replicas_path": ""},
    {"group": "", "version": "v1", "kind": "Secret", "plural": "secrets", "status_fields": [], "replicas_path": ""},
]


def seed(apps, schema_editor):
    FederatedType = apps.get_model("federation", "FederatedType")
    for values in BUILTIN:
        FederatedType.objects.update_or_create(
            group=values["group"], kind=values["kind"],
            defaults={**values, "namespaced": True, "source": "builtin", "enabled": True})


def unseed(apps, schema_editor):
    FederatedType = apps.get_model("federation", "FederatedType")
    FederatedType.objects.filter(source="builtin", resources__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("federation", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
