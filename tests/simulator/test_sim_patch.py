"""Each patch type and server-side apply, through the official clients."""
import pytest
from kubernetes import client, dynamic

from . import api_client_fixture, apps_fixture, core_fixture, deployment, kubesim_fixture, namespace_fixture  # noqa: F401


def _with_sidecar(name):
    body = deployment(name, replicas=0)
    spec = body["spec"]["template"]["spec"]
    spec["containers"][0]["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    spec["containers"].append({"name": "sidecar", "image": "envoy:1.30"})
    spec["volumes"] = [{"name": "data", "emptyDir": {}}]
    return body


def test_strategic_merge_patch_merges_lists_by_name(apps, namespace):
    apps.create_namespaced_deployment(namespace, _with_sidecar("smp"))
    patched = apps.patch_namespaced_deployment("smp", namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "image": "nginx:1.26", "env": [{"name": "B", "value": "3"}]}],
        "volumes": [{"name": "cache", "emptyDir": {}}]}}}})
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert containers["main"].image == "nginx:1.26"
    assert containers["sidecar"].image == "envoy:1.30"  # untouched, not replaced
    assert [(e.name, e.value) for e in containers["main"].env] == [("A", "1"), ("B", "3")]
    assert sorted(v.name for v in patched.spec.template.spec.volumes) == ["cache", "data"]
    # $patch: delete removes one element by its merge key.
    patched = apps.patch_namespaced_deployment("smp", namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": "sidecar", "$patch": "delete"}]}}}})
    assert [c.name for c in patched.spec.template.spec.containers] == ["main"]


def test_json_merge_patch_replaces_lists(api_client, apps, namespace):
    apps.create_namespaced_deployment(namespace, _with_sidecar("merge"))
    dyn = dynamic.DynamicClient(api_client)
    resource = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    patched = resource.patch(name="merge", namespace=namespace, content_type="application/merge-patch+json", body={
        "metadata": {"labels": {"tier": "web"}},
        "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "busybox:1"}]}}}})
    assert [c["name"] for c in patched.spec.template.spec.containers] == ["only"]
    assert patched.metadata.labels["tier"] == "web"
    patched = resource.patch(name="merge", namespace=namespace, content_type="application/merge-patch+json",
                             body={"metadata": {"labels": {"tier": None}}})
    assert "tier" not in (patched.metadata.labels or {})


def test_json_patch(core, namespace):
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="jp"), data={"a": "1", "b": "2"}))
    patched = core.patch_namespaced_config_map("jp", namespace, [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"},
        {"op": "add", "path": "/metadata/labels", "value": {"x~y/z": "1"}},
    ])
    assert patched.data == {"a": "10"} and patched.metadata.labels == {"x~y/z": "1"}
    with pytest.raises(client.ApiException) as err:
        core.patch_namespaced_config_map("jp", namespace, [{"op": "test", "path": "/data/a", "value": "nope"}])
    assert err.value.status == 422


def test_patch_with_stale_resource_version_conflicts(core, namespace):
    created = core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="p")))
    core.patch_namespaced_config_map("p", namespace, {"data": {"k": "1"}})
    with pytest.raises(client.ApiException) as err:
        core.patch_namespaced_config_map("p", namespace, {"metadata": {"resourceVersion": created.metadata.resource_version},
                                                         "data": {"k": "2"}})
    assert err.value.status == 409


def test_server_side_apply_create_then_update(api_client, namespace):
    dyn = dynamic.DynamicClient(api_client)
    resource = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    body = deployment("ssa", replicas=0)
    body["metadata"]["namespace"] = namespace
    body["metadata"]["labels"] = {"owner": "ci", "stale": "yes"}
    created = resource.server_side_apply(body=body, name="ssa", namespace=namespace, field_manager="release-engine")
    assert created.metadata.generation == 1
    entry = created.metadata.managedFields[0]
    assert entry.manager == "release-engine" and entry.operation == "Apply" and entry.fieldsType == "FieldsV1"
    assert "f:spec" in created.to_dict()["metadata"]["managedFields"][0]["fieldsV1"]

    del body["metadata"]["labels"]["stale"]  # fields this manager stops applying are removed
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    updated = resource.server_side_apply(body=body, name="ssa", namespace=namespace, field_manager="release-engine")
    assert updated.spec.template.spec.containers[0].image == "nginx:1.27"
    assert dict(updated.metadata.labels) == {"owner": "ci"}
    assert updated.metadata.generation == 2
    assert [m.manager for m in updated.metadata.managedFields] == ["release-engine"]


def test_server_side_apply_conflict_and_force(api_client, namespace):
    dyn = dynamic.DynamicClient(api_client)
    resource = dyn.resources.get(api_version="v1", kind="ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": namespace},
            "data": {"key": "one"}}
    resource.server_side_apply(body=body, name="shared", namespace=namespace, field_manager="alice")
    body["data"]["key"] = "two"
    with pytest.raises(client.ApiException) as err:
        resource.server_side_apply(body=body, name="shared", namespace=namespace, field_manager="bob")
    assert err.value.status == 409 and b'conflict with \\"alice\\"' in err.value.body
    forced = resource.server_side_apply(body=body, name="shared", namespace=namespace, field_manager="bob",
                                       force_conflicts=True)
    assert forced.data["key"] == "two"


def test_apply_requires_field_manager(api_client, namespace):
    resource = dynamic.DynamicClient(api_client).resources.get(api_version="v1", kind="ConfigMap")
    with pytest.raises(client.ApiException) as err:
        resource.patch(name="x", namespace=namespace, content_type="application/apply-patch+yaml",
                       body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert err.value.status == 422
