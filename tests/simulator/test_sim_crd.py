"""CustomResourceDefinitions: registration, discovery, CRUD, status subresource, removal."""
import uuid

import pytest
from kubernetes import client, dynamic

from . import api_client_fixture, apps_fixture, core_fixture, kubesim_fixture, namespace_fixture, wait_for  # noqa: F401


def _crd(group, kind, plural, scope="Namespaced", status=True):
    version = {"name": "v1", "served": True, "storage": True,
               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    if status:
        version["subresources"] = {"status": {}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": scope, "versions": [version],
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "shortNames": [kind.lower()[:3]]}}}


@pytest.fixture
def group():
    return f"t{uuid.uuid4().hex[:8]}.example.com"


def test_crd_serves_custom_resources_immediately(api_client, namespace, group):
    ext = client.ApiextensionsV1Api(api_client)
    created = ext.create_custom_resource_definition(_crd(group, "Widget", "widgets"))
    assert {c.type: c.status for c in created.status.conditions}["Established"] == "True"
    assert created.status.accepted_names.kind == "Widget"

    resources = client.CustomObjectsApi(api_client).get_api_resources(group, "v1").resources
    assert {r.name for r in resources} == {"widgets", "widgets/status"}
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert group in groups

    objects = client.CustomObjectsApi(api_client)
    body = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 1},
            "status": {"ignored": True}}
    made = objects.create_namespaced_custom_object(group, "v1", namespace, "widgets", body)
    assert made["metadata"]["uid"] and "status" not in made  # status comes only via /status
    got = objects.get_namespaced_custom_object(group, "v1", namespace, "widgets", "w1")
    assert got["spec"] == {"size": 1} and got["metadata"]["generation"] == 1
    patched = objects.patch_namespaced_custom_object(group, "v1", namespace, "widgets", "w1", {"spec": {"size": 2}})
    assert patched["spec"]["size"] == 2 and patched["metadata"]["generation"] == 2
    status = objects.patch_namespaced_custom_object_status(group, "v1", namespace, "widgets", "w1",
                                                           {"status": {"phase": "Ready"}})
    assert status["status"] == {"phase": "Ready"} and status["metadata"]["generation"] == 2
    listed = objects.list_namespaced_custom_object(group, "v1", namespace, "widgets")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    objects.delete_namespaced_custom_object(group, "v1", namespace, "widgets", "w1")
    assert objects.list_namespaced_custom_object(group, "v1", namespace, "widgets")["items"] == []


def test_cluster_scoped_crd_and_dynamic_client(api_client, group):
    ext = client.ApiextensionsV1Api(api_client)
    ext.create_custom_resource_definition(_crd(group, "Realm", "realms", scope="Cluster", status=False))
    dyn = dynamic.DynamicClient(api_client)
    realms = dyn.resources.get(api_version=f"{group}/v1", kind="Realm")
    assert not realms.namespaced
    realms.create(body={"apiVersion": f"{group}/v1", "kind": "Realm", "metadata": {"name": "r1"}, "spec": {"a": 1}})
    assert [r.metadata.name for r in realms.get().items] == ["r1"]
    with pytest.raises(client.ApiException) as err:  # strategic merge is not defined for custom resources
        api_client.call_api(f"/apis/{group}/v1/realms/r1", "PATCH",
                                  header_params={"Content-Type": "application/strategic-merge-patch+json"},
                                  body={"spec": {"a": 2}}, auth_settings=["BearerToken"], _preload_content=False)
    assert err.value.status == 415


def test_deleting_crd_removes_kind_and_objects(api_client, namespace, group):
    ext = client.ApiextensionsV1Api(api_client)
    ext.create_custom_resource_definition(_crd(group, "Gadget", "gadgets"))
    objects = client.CustomObjectsApi(api_client)
    objects.create_namespaced_custom_object(group, "v1", namespace, "gadgets", {
        "apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "g"}})
    ext.delete_custom_resource_definition(f"gadgets.{group}")
    with pytest.raises(client.ApiException) as err:
        objects.list_namespaced_custom_object(group, "v1", namespace, "gadgets")
    assert err.value.status == 404
    assert group not in {g.name for g in client.ApisApi(api_client).get_api_versions().groups}


def test_invalid_crd_is_rejected(api_client):
    bad = _crd("bad.example.com", "Thing", "things")
    bad["metadata"]["name"] = "wrong-name"
    with pytest.raises(client.ApiException) as err:
        client.ApiextensionsV1Api(api_client).create_custom_resource_definition(bad)
    assert err.value.status == 422
