"""YAML request bodies: JSON text and block-style YAML decode alike, aliases are refused.

The official client always sends JSON as an apply patch, so YAML bodies go out as raw
text through the client's own connection pool (its TLS and bearer token)."""
import json

from kubernetes import client

from . import api_client_fixture, apps_fixture, core_fixture, kubesim_fixture, namespace_fixture  # noqa: F401

APPLY = "application/apply-patch+yaml"

DEPLOYMENT_YAML = """\
# what a person would write by hand
apiVersion: apps/v1
kind: Deployment
metadata:
  name: from-yaml
  labels:
    app: web
    tier: "1"
spec:
  replicas: 0
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: main
        image: nginx:1.25
        args:
        - --port=8080
        - "true"
        ports:
        - containerPort: 8080
"""


def _as_json(name: str) -> dict:
    labels = {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": "web", "tier": "1"}},
            "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                         "name": "main", "image": "nginx:1.25", "args": ["--port=8080", "true"],
                         "ports": [{"containerPort": 8080}]}]}}}}


def _send(api_client: client.ApiClient, method: str, path: str, text: str, content_type: str):
    """A raw request with the kubeconfig's credentials; returns (status, decoded JSON body)."""
    configuration = api_client.configuration
    response = api_client.rest_client.pool_manager.request(
        method, configuration.host + path, body=text.encode(), timeout=30,
        headers={"Authorization": configuration.api_key["authorization"], "Content-Type": content_type})
    return response.status, json.loads(response.data)


def _comparable(obj: dict) -> dict:
    meta = obj["metadata"]
    return {"spec": obj["spec"], "labels": meta["labels"], "generation": meta["generation"],
            "managed": [(m["manager"], m["operation"], m["fieldsV1"]) for m in meta["managedFields"]]}


def test_apply_with_json_and_with_block_yaml_store_the_same_object(api_client, namespace):
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    status, from_json = _send(api_client, "PATCH", f"{path}/from-json?fieldManager=ci", json.dumps(_as_json("from-json")),
                              APPLY)
    assert status == 201, from_json
    status, from_yaml = _send(api_client, "PATCH", f"{path}/from-yaml?fieldManager=ci", DEPLOYMENT_YAML, APPLY)
    assert status == 201, from_yaml
    assert _comparable(from_yaml) == _comparable(from_json)
    assert from_yaml["spec"]["template"]["spec"]["containers"][0]["args"] == ["--port=8080", "true"]
    assert from_yaml["metadata"]["labels"]["tier"] == "1"


def test_application_yaml_create_decodes_block_yaml(api_client, namespace):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  key: |\n    two\n    lines\n"
    status, created = _send(api_client, "POST", f"/api/v1/namespaces/{namespace}/configmaps", text,
                            "application/yaml")
    assert status == 201, created
    assert created["data"] == {"key": "two\nlines\n"}


def _bomb(levels: int = 6, width: int = 10) -> str:
    """A "billion laughs" ConfigMap: ~500 bytes that expand to width**levels strings."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: laughs", "  annotations:",
             f'    l0: &l0 [{", ".join(["lol"] * width)}]']
    for level in range(1, levels):
        lines.append(f'    l{level}: &l{level} [{", ".join([f"*l{level - 1}"] * width)}]')
    return "\n".join(lines) + "\n"


def test_apply_refuses_an_alias_bomb_with_a_status(api_client, core, namespace):
    status, body = _send(api_client, "PATCH", f"/api/v1/namespaces/{namespace}/configmaps/laughs?fieldManager=ci",
                         _bomb(), APPLY)
    assert status == 400
    assert body["kind"] == "Status" and body["reason"] == "BadRequest" and body["code"] == 400
    assert body["message"].startswith("error decoding YAML: ") and "aliases" in body["message"]
    assert [c.metadata.name for c in core.list_namespaced_config_map(namespace).items
            if c.metadata.name == "laughs"] == []


def test_any_alias_is_refused_in_yaml_bodies(api_client, namespace):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: &n shared\ndata:\n  copy: *n\n"
    status, body = _send(api_client, "POST", f"/api/v1/namespaces/{namespace}/configmaps", text, "application/yaml")
    assert status == 400 and body["reason"] == "BadRequest"
    assert "aliases" in body["message"]
    status, body = _send(api_client, "PATCH", f"/api/v1/namespaces/{namespace}/configmaps/shared?fieldManager=ci",
                         text, APPLY)
    assert status == 400 and "aliases" in body["message"]


def test_malformed_yaml_keeps_the_kubernetes_wording(api_client, namespace):
    status, body = _send(api_client, "PATCH", f"/api/v1/namespaces/{namespace}/configmaps/x?fieldManager=ci",
                         "kind: [unclosed", APPLY)
    assert status == 400 and body["message"].startswith("error decoding YAML: ")
