"""End to end against the cluster simulator (OpenKruise installed in every cluster): CloneSet
registered as a federated type from a member cluster, an application whose component is a
CloneSet applied to acme/test, and its next image updated in place."""
import pytest
from kubernetes import client

from applications import services
from clusters.federation import services as federation
from clusters.models import Cell, EnvironmentBinding
from tests.federation.conftest import converge, direct_client, fedsim, topology, wait_for  # noqa: F401 (fixtures)

from .conftest import COMPONENT, SYSTEM
from .test_app_e2e import registry  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
GROUP, VERSION, PLURAL = "apps.kruise.io", "v1alpha1", "clonesets"


def _pods(api):
    return {p.metadata.name: p for p in client.CoreV1Api(api).list_namespaced_pod(
        "acme-test", label_selector="app.stratus.io/application=payments-api").items}


def test_cloneset_component_is_federated_and_updated_in_place(topology, registry, tenant):  # noqa: F811
    test = tenant.environments.get(slug="test")
    for cell in Cell.objects.all():
        EnvironmentBinding.objects.create(environment=test, cell=cell)
    registry.push("acme/payments-api", "1.0")
    app = services.application_create(actor=SYSTEM, tenant=tenant, name="payments-api")
    services.component_create(actor=SYSTEM, application=app, data={**COMPONENT, "workload_kind": "cloneset"})
    first = services.revision_create(actor=SYSTEM, application=app, environment=test)
    instance = app.instances.get(environment=test)
    ftype = federation.federated_type_register_crd(actor=SYSTEM, cluster=topology["clusters"]["fed-a1"],
                                                   crd_name="clonesets.apps.kruise.io")
    assert ftype.enabled and ftype.api_version == "apps.kruise.io/v1alpha1"
    services.instance_apply_revision(actor=SYSTEM, instance=instance, revision=first)
    converge()

    api = direct_client(topology["server"], "fed-b1")
    objects = client.CustomObjectsApi(api)
    cs = objects.get_namespaced_custom_object(GROUP, VERSION, "acme-test", PLURAL, "payments-api-api")
    assert cs["spec"]["updateStrategy"] == {"type": "InPlaceIfPossible", "partition": 0, "maxUnavailable": "100%",
                                            "maxSurge": 0, "inPlaceUpdateStrategy": {}}
    # A direct apply: no release engine would release a traffic hook, so the CloneSet has none.
    assert "lifecycle" not in cs["spec"]
    before = wait_for(lambda: (pods := _pods(api)) and all(
        any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or ()) for p in pods.values())
        and pods, timeout=20, message="CloneSet pods ready")
    pod = next(iter(before.values()))
    assert "paas.io/traffic-hook" not in pod.metadata.labels
    assert pod.metadata.labels["lifecycle.apps.kruise.io/state"] == "Normal"

    # The next image (and revision label): the same pods, restarted in place.
    registry.push("acme/payments-api", "1.1")
    services.component_update(actor=SYSTEM, component=app.components.get(), data={"image": "acme/payments-api:1.1"})
    second = services.revision_create(actor=SYSTEM, application=app, environment=test)
    services.instance_apply_revision(actor=SYSTEM, instance=instance, revision=second)
    converge()
    image = second.spec["components"][0]["image"]
    after = wait_for(lambda: (pods := _pods(api)) and all(
        p.spec.containers[0].image == image and p.status.container_statuses[0].restart_count == 1
        for p in pods.values()) and pods, timeout=20, message="pods updated in place")
    assert set(after) == set(before)
    assert all(p.metadata.labels["app.stratus.io/revision"] == "2" for p in after.values())
    api.close()

