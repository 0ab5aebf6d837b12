"""Pure parts: image references, the revision spec's diff, rendering (guaranteed QoS for exclusive
cores, content-named ConfigMaps and Secrets, Divided placement), the placement's pod counts."""
import base64
import dataclasses
import json

import pytest

from applications import images, render, spec
from applications.validation import component
from paas.errors import DomainError

from .conftest import COMPONENT


@pytest.mark.parametrize("value, expected", [
    ("acme/api:1.0", ("", "acme/api", "1.0", "")),
    ("acme/api", ("", "acme/api", "latest", "")),
    ("registry.example.com:5000/team/api:2", ("registry.example.com:5000", "team/api", "2", "")),
    ("localhost/x/y@sha256:" + "a" * 64, ("localhost", "x/y", "", "sha256:" + "a" * 64)),
])
def test_image_references(value, expected, settings):
    settings.REGISTRY_HOST = "127.0.0.1:8000"
    ref = images.parse(value)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == expected


def test_the_built_in_registry_by_its_address_is_the_built_in_one(settings):
    settings.REGISTRY_HOST = "127.0.0.1:8000"
    ref = images.parse("127.0.0.1:8000/acme/api:1")
    assert ref.builtin and ref.by_digest("sha256:" + "b" * 64) == "127.0.0.1:8000/acme/api@sha256:" + "b" * 64


@pytest.mark.parametrize("value", ["Acme/API:1", "acme/api@sha256:short", "acme//api:1", "acme/api:bad tag"])
def test_bad_image_references(value):
    with pytest.raises(ValueError):
        images.parse(value)


def test_diff_compares_named_lists_by_name():
    before = {"components": [{"name": "api", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}
    after = {"components": [{"name": "api", "env": [{"name": "Z", "value": "0"}, {"name": "A", "value": "1"},
                                                    {"name": "B", "value": "3"}]},
                            {"name": "worker", "image": "x@sha256:1"}]}
    assert spec.diff(before, after) == [
        {"path": "components[api].env[B].value", "before": "2", "after": "3"},
        {"path": "components[api].env[Z].value", "before": None, "after": "0"},
        {"path": "components[worker].image", "before": None, "after": "x@sha256:1"},
    ]
    assert spec.diff(after, after) == []


def _ctx(**kwargs):
    defaults = {"application": "payments-api", "instance_id": 7, "revision": 3, "environment_kind": "prod",
                "placement": {"cells": ["cell-a"]}, "secret_values": {"api": {"DB_PASSWORD": "x"}}}
    return render.Context(**{**defaults, **kwargs})


def _spec(**overrides):
    cleaned = component({**COMPONENT, **overrides}, application_name="payments-api")
    return spec.build([spec.component_spec(cleaned, image="h/acme/payments-api@sha256:" + "c" * 64,
                                           secret_values={"DB_PASSWORD": "x"})])


def test_render_makes_the_workload_service_config_and_secret():
    objects = {d.kind: d for d in render.objects(_ctx(), _spec())}
    assert set(objects) == {"Deployment", "Service", "ConfigMap", "Secret"}
    workload = objects["Deployment"].template
    pod = workload["spec"]["template"]
    assert workload["spec"]["replicas"] == 2 and pod["metadata"]["labels"]["app.stratus.io/revision"] == "3"
    assert workload["spec"]["selector"]["matchLabels"] == {"app.stratus.io/application": "payments-api",
                                                           "app.stratus.io/component": "api"}
    container = pod["spec"]["containers"][0]
    assert container["livenessProbe"] == {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10}
    assert container["readinessProbe"] == {"tcpSocket": {"port": 8080}}
    secret_env = next(e for e in container["env"] if e["name"] == "DB_PASSWORD")
    assert secret_env["valueFrom"]["secretKeyRef"]["name"] == objects["Secret"].name
    assert objects["Secret"].template["data"] == {"DB_PASSWORD": "eA=="}
    assert pod["spec"]["volumes"][0]["configMap"]["name"] == objects["ConfigMap"].name
    assert container["volumeMounts"][0]["mountPath"] == "/etc/app/application.yaml"
    # Another content, another ConfigMap name (the pods roll).
    other = {d.kind: d for d in render.objects(_ctx(), _spec(config_files=[{"path": "/etc/app/application.yaml",
                                                                         "content": "x"}]))}
    assert other["ConfigMap"].name != objects["ConfigMap"].name


def test_exclusive_cores_render_guaranteed_qos():
    resources = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}
    desired = render.objects(_ctx(), _spec(cpuset_cores=2, resources=resources))
    pod = next(d for d in desired if d.kind == "Deployment").template["spec"]["template"]
    container = pod["spec"]["containers"][0]["resources"]
    assert container["requests"]["cpu"] == container["limits"]["cpu"] == "2"
    assert container["requests"]["memory"] == container["limits"]["memory"] == "1Gi"
    assert pod["metadata"]["annotations"] == {"app.stratus.io/exclusive-cpus": "2"}
    with pytest.raises(DomainError) as exc:
        component({**COMPONENT, "cpuset_cores": 2, "resources": {}}, application_name="payments-api")
    assert exc.value.field == "resources.limits.memory"


def test_divided_placement_gets_the_replicas_as_total_and_clonesets_update_in_place():
    ctx = _ctx(placement={"cells": ["cell-a"], "replicaScheduling": {"type": "Divided", "weights": {"cell-a": 1}}})
    workload = next(d for d in render.objects(ctx, _spec(workload_kind="cloneset")) if d.role == "workload")
    assert workload.kind == "CloneSet" and workload.api_version == "apps.kruise.io/v1alpha1"
    spec = workload.template["spec"]
    assert spec["updateStrategy"] == {"type": "InPlaceIfPossible", "partition": 0, "maxUnavailable": "100%",
                                      "maxSurge": 0}
    # Each pod is held by the traffic hook before an in-place update or a deletion.
    hook = {"labelsHandler": {"paas.io/traffic-hook": "true"}}
    assert spec["lifecycle"] == {"inPlaceUpdate": hook, "preDelete": hook}
    assert spec["template"]["metadata"]["labels"]["paas.io/traffic-hook"] == "true"
    assert "paas.io/traffic-hook" not in spec["selector"]["matchLabels"]
    partitioned = next(d for d in render.objects(dataclasses.replace(ctx, partition=2), _spec(workload_kind="cloneset"))
                       if d.role == "workload")
    assert partitioned.template["spec"]["updateStrategy"]["partition"] == 2
    assert workload.placement["replicaScheduling"]["totalReplicas"] == 2
    service = next(d for d in render.objects(ctx, _spec()) if d.kind == "Service")
    assert "replicaScheduling" not in service.placement


def test_one_pull_secret_with_a_login_per_registry():
    desired = render.objects(_ctx(pull_auths={"reg:5000": ("ci", "paas_x"), "harbor.example": ("robot", "pw")}),
                             _spec())
    pull = desired[0]
    assert pull.template["type"] == "kubernetes.io/dockerconfigjson" and pull.role == "pull-secret"
    config = json.loads(base64.b64decode(pull.template["data"][".dockerconfigjson"]))
    assert config == {"auths": {
        "harbor.example": {"username": "robot", "password": "pw", "auth": base64.b64encode(b"robot:pw").decode()},
        "reg:5000": {"username": "ci", "password": "paas_x", "auth": base64.b64encode(b"ci:paas_x").decode()}}}
    workload = next(d for d in desired if d.kind == "Deployment")
    assert workload.template["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "payments-api-pull"}]
    # No login to give: no secret, and the pods name none.
    desired = render.objects(_ctx(), _spec())
    assert not [d for d in desired if d.role == "pull-secret"]
    assert "imagePullSecrets" not in next(d for d in desired if d.kind == "Deployment").template["spec"]["template"]["spec"]


@pytest.mark.django_db
def test_exclusive_cores_count_against_their_quota(app, cells, tenant):
    from applications import services

    from .conftest import SYSTEM, env

    services.component_update(actor=SYSTEM, component=app.components.get(), data={
        "cpuset_cores": 1, "resources": {"limits": {"cpu": "1", "memory": "256Mi"}}})
    with pytest.raises(DomainError) as exc:
        services.revision_create(actor=SYSTEM, application=app, environment=env(tenant, "test"))
    assert "exclusive cpuset cores: needs 3, quota 0" in exc.value.message
