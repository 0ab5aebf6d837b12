"""Instances pull from external registries the way they pull from the built-in one, end to end:
a revision whose images live in a real docker-registry asking for a login (Basic or Bearer,
extregistry.py) is applied directly to acme/dev through federation to the cluster simulator; the
instance's one pull secret carries a login per registry host (the built-in one and the external
one), the simulator's kubelet pulls with it and reports the external digest as the pods' imageID.
The secret's data stays masked in the API, pages and the audit trail. Without the login the pods
end in ErrImagePull, as on a real cluster."""
import base64
import json

import pytest
from kubernetes import client

from applications import services
from applications.models import InstanceResource
from applications.registry.auth import pull_credentials
from applications.registry.services import external_registry_delete
from clusters.simulator.registryprobe import checks_enabled
from paas.audit.models import AuditEvent
from tests.federation.conftest import converge, direct_client, fedsim, topology, wait_for  # noqa: F401 (fixtures)

from .conftest import COMPONENT, SYSTEM, fake_builtin
from .extregistry import PULLER, external, secret_forms  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
NAMESPACE = "acme-dev"  # acme/dev is bound to fed-b1 only (tests/federation/conftest.py)
WORKER = {"name": "worker", "resources": {"requests": {"cpu": "50m", "memory": "32Mi", "ephemeral-storage": "16Mi"},
                                          "limits": {"cpu": "50m", "memory": "32Mi", "ephemeral-storage": "16Mi"}},
          "replicas": {"dev": 2}}


@pytest.fixture
def registry(monkeypatch, settings):
    # The built-in registry answers through a fake here; nothing listens at its address (this
    # helper's port range), so the kubelet finds it unreachable and runs its images as before.
    return fake_builtin(monkeypatch, settings, "127.0.0.1:25699")


@pytest.fixture
def core(topology):  # noqa: F811
    assert checks_enabled(), "KUBESIM_IMAGE_CHECK=0 is set: the simulator's kubelets would not ask registries"
    api = direct_client(topology["server"], "fed-b1")
    yield client.CoreV1Api(api)
    api.close()


def _worker_pods(core, application: str) -> list:
    selector = f"app.stratus.io/application={application},app.stratus.io/component=worker"
    return core.list_namespaced_pod(NAMESPACE, label_selector=selector).items


def _state(pod) -> tuple[str, str]:
    """("running", imageID) or (waiting reason, message) of the pod's container."""
    status = (pod.status.container_statuses or [None])[0]
    if status is None:
        return "", ""
    if status.state.running is not None:
        return "running", status.image_id
    waiting = status.state.waiting
    return (waiting.reason or "", waiting.message or "") if waiting is not None else ("", "")


def _apply(application, tenant):
    dev = tenant.environments.get(slug="dev")
    revision = services.revision_create(actor=SYSTEM, application=application, environment=dev)
    return revision, dev


def test_pods_pull_the_external_image_with_the_instance_pull_secret(external, registry, tenant, topology, core,  # noqa: F811
                                                                    personas, login):
    name = f"ext-{external.mode}"
    digest = external.push("acme/worker", "1.0")
    external.register(tenant)
    registry.push("acme/payments-api", "1.0")
    application = services.application_create(actor=SYSTEM, tenant=tenant, name=name)
    services.component_create(actor=SYSTEM, application=application, data=dict(COMPONENT))  # built-in registry
    services.component_create(actor=SYSTEM, application=application,
                              data={**WORKER, "image": f"{external.host}/acme/worker:1.0"})
    revision, dev = _apply(application, tenant)
    pinned = f"{external.host}/acme/worker@{digest}"
    assert [c["image"] for c in revision.spec["components"]][1] == pinned
    instance = services.instance_apply_revision(actor=SYSTEM, instance=application.instances.get(environment=dev),
                                                revision=revision)
    converge()

    # One pull secret, a login for each registry the images come from; the pods name it.
    link = InstanceResource.objects.get(instance=instance, role="pull-secret")
    stored = json.loads(base64.b64decode(link.resource.template["data"][".dockerconfigjson"]))
    assert {host: (entry["username"], entry["password"]) for host, entry in stored["auths"].items()} == {
        "127.0.0.1:25699": pull_credentials(tenant), external.host: PULLER}
    in_cluster = core.read_namespaced_secret(f"{name}-pull", NAMESPACE)
    assert in_cluster.type == "kubernetes.io/dockerconfigjson"
    assert json.loads(base64.b64decode(in_cluster.data[".dockerconfigjson"])) == stored
    deployment = client.AppsV1Api(core.api_client).read_namespaced_deployment(f"{name}-worker", NAMESPACE)
    assert [s.name for s in deployment.spec.template.spec.image_pull_secrets] == [f"{name}-pull"]

    # The kubelet asked the external registry with that login: containerd's imageID is the digest.
    pods = wait_for(lambda: (found := _worker_pods(core, name)) and len(found) == 2
                    and all(_state(p)[0] == "running" for p in found) and found,
                    timeout=20, message="both worker pods running")
    assert {_state(p)[1] for p in pods} == {pinned}

    _assert_masked(link.resource, personas, login, tenant)


def _assert_masked(resource, personas, login, tenant) -> None:
    """The pull secret's data appears in no answer of the portal and nowhere in the audit trail."""
    leaks = [*secret_forms(), resource.template["data"][".dockerconfigjson"]]
    developer = login(personas["developer"])
    answers = {
        "API": developer.get(f"/api/v1/tenants/acme/federated-resources/{resource.pk}/"),
        "page": developer.get(f"/federation/acme/dev/{resource.pk}/"),
    }
    for where, response in answers.items():
        assert response.status_code == 200, where
        text = response.content.decode()
        assert resource.name in text, where
        assert not [leak for leak in leaks if leak in text], f"the pull secret's data shows in the {where}"
    shown = answers["API"].json()["template"]["data"]
    assert shown == {".dockerconfigjson": "***"}
    trail = json.dumps([e.changes for e in AuditEvent.objects.filter(tenant_id=tenant.pk)])
    assert "payments-api" in trail or "ext-" in trail
    assert not [leak for leak in leaks if leak in trail], "the pull secret's data is in the audit trail"


def test_without_the_registry_login_the_pods_fail_to_pull(external, registry, tenant, topology, core):  # noqa: F811
    name = f"nologin-{external.mode}"
    external.push("acme/worker", "2.0")
    entry = external.register(tenant)
    application = services.application_create(actor=SYSTEM, tenant=tenant, name=name)
    services.component_create(actor=SYSTEM, application=application,
                              data={**WORKER, "image": f"{external.host}/acme/worker:2.0"})
    revision, dev = _apply(application, tenant)  # resolved while the platform held the login
    external_registry_delete(actor=SYSTEM, registry=entry)
    instance = services.instance_apply_revision(actor=SYSTEM, instance=application.instances.get(environment=dev),
                                                revision=revision)
    converge()

    assert not InstanceResource.objects.filter(instance=instance, role="pull-secret").exists()
    pods = wait_for(lambda: (found := _worker_pods(core, name)) and len(found) == 2
                    and all(_state(p)[0] in ("ErrImagePull", "ImagePullBackOff") for p in found) and found,
                    timeout=20, message="both worker pods failing to pull")
    for pod in pods:
        reason, message = _state(pod)
        assert f"{external.host}/acme/worker@sha256:" in message and ("401" in message or "unauthorized" in message)
