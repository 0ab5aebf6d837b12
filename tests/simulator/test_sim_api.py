"""Core API semantics: CRUD, conflicts, status objects, auth, discovery, namespaces."""
import pytest
from kubernetes import client, dynamic

from . import api_client_fixture, apps_fixture, core_fixture, kubesim_fixture, namespace_fixture, wait_for  # noqa: F401


def _cm(name, **data):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data or None)


def test_create_get_update_delete_configmap(core, namespace):
    created = core.create_namespaced_config_map(namespace, _cm("settings", a="1"))
    assert created.metadata.uid and created.metadata.resource_version.isdigit()
    assert created.metadata.creation_timestamp is not None
    got = core.read_namespaced_config_map("settings", namespace)
    assert got.data == {"a": "1"}
    got.data["a"] = "2"
    updated = core.replace_namespaced_config_map("settings", namespace, got)
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)
    core.delete_namespaced_config_map("settings", namespace)
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_config_map("settings", namespace)
    assert err.value.status == 404
    assert '"reason":"NotFound"' in err.value.body


def test_already_exists_is_409_with_status_object(core, namespace):
    core.create_namespaced_config_map(namespace, _cm("dup"))
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map(namespace, _cm("dup"))
    assert err.value.status == 409
    assert '"reason":"AlreadyExists"' in err.value.body
    assert 'configmaps \\"dup\\" already exists' in err.value.body


def test_stale_update_is_409_conflict(core, namespace):
    first = core.create_namespaced_config_map(namespace, _cm("cas", v="1"))
    first.data = {"v": "2"}
    core.replace_namespaced_config_map("cas", namespace, first)
    first.data = {"v": "3"}  # still carries the old resourceVersion
    with pytest.raises(client.ApiException) as err:
        core.replace_namespaced_config_map("cas", namespace, first)
    assert err.value.status == 409
    assert '"reason":"Conflict"' in err.value.body
    assert core.read_namespaced_config_map("cas", namespace).data == {"v": "2"}


def test_no_op_update_keeps_resource_version(core, namespace):
    created = core.create_namespaced_config_map(namespace, _cm("same", a="1"))
    again = core.replace_namespaced_config_map("same", namespace, created)
    assert again.metadata.resource_version == created.metadata.resource_version


def test_generate_name(core, namespace):
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="gen-"))
    one = core.create_namespaced_config_map(namespace, body)
    two = core.create_namespaced_config_map(namespace, body)
    assert one.metadata.name.startswith("gen-") and len(one.metadata.name) == len("gen-") + 5
    assert one.metadata.name != two.metadata.name


def test_invalid_and_missing_namespace(core, namespace):
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map(namespace, _cm("Not_Valid"))
    assert err.value.status == 422 and '"reason":"Invalid"' in err.value.body
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map("no-such-namespace", _cm("x"))
    assert err.value.status == 404 and 'namespaces \\"no-such-namespace\\" not found' in err.value.body


def test_generation_tracks_spec_changes(apps, namespace):
    from . import deployment
    created = apps.create_namespaced_deployment(namespace, deployment("gen", replicas=0))
    assert created.metadata.generation == 1
    body = apps.read_namespaced_deployment("gen", namespace)
    body.metadata.labels = {"touched": "yes"}
    updated = apps.replace_namespaced_deployment("gen", namespace, body)
    assert updated.metadata.generation == 1  # metadata-only change
    patched = apps.patch_namespaced_deployment("gen", namespace, {"spec": {"replicas": 1}})
    assert patched.metadata.generation == 2
    wait_for(lambda: apps.read_namespaced_deployment("gen", namespace).status.observed_generation == 2,
             message="observedGeneration")


def test_status_subresource_isolation(core, namespace):
    core.create_namespaced_service(namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="lb"),
        spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)])))
    ingress = {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}}
    # Status sent to the main endpoint is ignored...
    main = core.patch_namespaced_service("lb", namespace, {**ingress, "metadata": {"labels": {"a": "b"}}})
    assert main.metadata.labels == {"a": "b"} and not main.status.load_balancer.ingress
    # ...and the /status endpoint changes only status.
    status = core.patch_namespaced_service_status("lb", namespace, {**ingress, "metadata": {"labels": {"c": "d"}}})
    assert status.status.load_balancer.ingress[0].ip == "192.0.2.10"
    assert status.metadata.labels == {"a": "b"}


def test_finalizers_delay_deletion(core, namespace):
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="held", finalizers=["example.com/hold"])))
    core.delete_namespaced_config_map("held", namespace)
    held = core.read_namespaced_config_map("held", namespace)
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", namespace, {"metadata": {"finalizers": None}})
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_config_map("held", namespace)
    assert err.value.status == 404


def test_unauthorized_without_token(kubesim):
    cluster = kubesim.server.cluster("sim-a")
    configuration = client.Configuration()
    configuration.host = cluster.url
    configuration.ssl_ca_cert = str(kubesim.server.state_dir / "pki" / "ca.crt")
    anonymous = client.CoreV1Api(client.ApiClient(configuration))
    with pytest.raises(client.ApiException) as err:
        anonymous.list_namespace()
    assert err.value.status == 401
    configuration.api_key = {"authorization": "Bearer wrong-token"}
    with pytest.raises(client.ApiException) as err:
        client.CoreV1Api(client.ApiClient(configuration)).list_namespace()
    assert err.value.status == 401


def test_discovery_and_version(api_client):
    version = client.VersionApi(api_client).get_code()
    assert version.major == "1" and version.minor == "32"
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"apps", "apiextensions.k8s.io"} <= groups
    core_resources = {r.name for r in client.CoreV1Api(api_client).get_api_resources().resources}
    assert {"pods", "pods/status", "services", "configmaps", "secrets", "events", "resourcequotas",
            "namespaces", "nodes", "endpoints"} <= core_resources
    dyn = dynamic.DynamicClient(api_client)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.namespaced and deployments.name == "deployments"


def test_nodes_are_ready(core):
    nodes = core.list_node().items
    assert len(nodes) == 3
    assert all(any(c.type == "Ready" and c.status == "True" for c in n.status.conditions) for n in nodes)


def test_namespace_delete_removes_contents(core):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="t-doomed")))
    core.create_namespaced_config_map("t-doomed", _cm("inside"))
    core.create_namespaced_secret("t-doomed", client.V1Secret(metadata=client.V1ObjectMeta(name="s"),
                                                               string_data={"k": "v"}))
    core.delete_namespace("t-doomed")

    def gone():
        try:
            core.read_namespace("t-doomed")
        except client.ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, message="namespace removal")
    assert core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=t-doomed").items == []


def test_secret_string_data_is_encoded(core, namespace):
    secret = core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="creds"), string_data={"password": "hunter2"}))
    assert secret.type == "Opaque" and secret.data == {"password": "aHVudGVyMg=="}


def test_service_gets_cluster_ip_and_defaults(core, namespace):
    svc = core.create_namespaced_service(namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1ServiceSpec(selector={"app": "web"}, ports=[client.V1ServicePort(port=80)])))
    assert svc.spec.cluster_ip.startswith("10.96.")
    assert svc.spec.ports[0].target_port == 80 and svc.spec.ports[0].protocol == "TCP"


def test_delete_collection(core, namespace):
    for i in range(3):
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=f"c{i}", labels={"group": "x" if i < 2 else "y"})))
    core.delete_collection_namespaced_config_map(namespace, label_selector="group=x")
    assert [c.metadata.name for c in core.list_namespaced_config_map(namespace).items] == ["c2"]


def test_scale_subresource(apps, namespace):
    from . import deployment
    apps.create_namespaced_deployment(namespace, deployment("scaled", replicas=1))
    scale = apps.read_namespaced_deployment_scale("scaled", namespace)
    assert scale.spec.replicas == 1
    apps.patch_namespaced_deployment_scale("scaled", namespace, {"spec": {"replicas": 3}})
    assert apps.read_namespaced_deployment("scaled", namespace).spec.replicas == 3


def test_events_crud(core, namespace):
    core.create_namespaced_event(namespace, client.CoreV1Event(
        metadata=client.V1ObjectMeta(name="web.1"), reason="Started", message="hello", type="Normal",
        involved_object=client.V1ObjectReference(kind="Pod", name="web", namespace=namespace)))
    events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=web,reason=Started").items
    assert [(e.reason, e.message) for e in events] == [("Started", "hello")]


def test_default_namespace_cannot_be_deleted(core):
    with pytest.raises(client.ApiException) as err:
        core.delete_namespace("default")
    assert err.value.status == 403
