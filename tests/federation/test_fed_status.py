"""Status flowing back, service discovery, preview, CRDs, self-healing and metrics."""
import time

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from kubernetes import client

from clusters.federation import services, status, tasks
from clusters.federation.models import FederatedType, Propagation
from clusters.federation.preview import preview
from paas.celery import app as celery_app
from paas.errors import DomainError

from .conftest import SYSTEM, converge, deployment, direct_client, wait_for

CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "widgets.example.com"},
       "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget",
                                                                          "singular": "widget"},
                "versions": [{"name": "v1", "served": True, "storage": True,
                              "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                                       "statusReplicasPath": ".status.replicas"}},
                              "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                  "spec": {"type": "object", "properties": {"replicas": {"type": "integer"},
                                                                            "colour": {"type": "string"}}},
                                  "status": {"type": "object", "properties": {
                                      "replicas": {"type": "integer"}, "phase": {"type": "string"}}}}}}}]}}


@pytest.fixture
def eager():
    """Run tasks inline, as a worker would, so beat jobs can be driven end to end."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def create(topology, ftypes, kind="Deployment", **kwargs):
    kwargs.setdefault("name", "web")
    kwargs.setdefault("template", deployment(kwargs["name"]))
    return services.federated_resource_create(actor=SYSTEM, environment=topology["prod"], ftype=ftypes[kind],
                                              **kwargs)


def test_status_is_aggregated_within_seconds_of_a_member_change(topology, ftypes, eager):
    res = create(topology, ftypes, template=deployment("web", replicas=2))
    converge()

    def totals():
        tasks.collect_all()  # the beat job: collects every cluster holding objects
        res.refresh_from_db()
        return res.status.get("totals", {})

    wait_for(lambda: totals().get("readyReplicas") == 6, timeout=5, message="6 ready replicas")
    assert res.status["ready"] and res.status["converged"] and res.status["totals"]["desired"] == 6
    row = res.status["clusters"]["fed-a1"]
    assert row["readyReplicas"] == 2 and {c["type"] for c in row["conditions"]} >= {"Available"}
    # Someone scales the deployment in one member cluster: the federated status shows it within seconds.
    started = time.monotonic()
    apps = client.AppsV1Api(direct_client(topology["server"], "fed-b1"))
    apps.patch_namespaced_deployment_scale("web", "acme-prod", {"spec": {"replicas": 5}})
    wait_for(lambda: totals().get("readyReplicas") == 9, timeout=5, message="9 ready replicas")
    assert time.monotonic() - started < 5
    assert res.status["clusters"]["fed-b1"]["readyReplicas"] == 5


def test_an_object_deleted_in_a_member_cluster_is_put_back(topology, ftypes):
    create(topology, ftypes)
    converge()
    apps = client.AppsV1Api(direct_client(topology["server"], "fed-a1"))
    apps.delete_namespaced_deployment("web", "acme-prod")
    status.collect_status(topology["clusters"]["fed-a1"].pk)
    row = Propagation.objects.get(cluster__slug="fed-a1")
    assert row.dirty and row.state == "pending"
    converge()
    assert apps.read_namespaced_deployment("web", "acme-prod").spec.replicas == 3


def test_service_discovery_groups_endpoints_by_cell_and_zone(topology, ftypes):
    from clusters.federation.discovery import service_endpoints

    create(topology, ftypes, template=deployment("api", replicas=2), name="api")
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
               "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    svc = create(topology, ftypes, kind="Service", name="api", template=service)
    converge()

    def ready():
        found = service_endpoints(svc)
        return found if found["ready"] == 6 else None

    found = wait_for(ready, timeout=5, message="6 ready endpoints")
    assert found["global_name"] == "api.acme-prod.global"
    cells = {c["cell"]: c for c in found["cells"]}
    assert cells["cell-a"]["global_name"] == "api.acme-prod.cell-a.global" and cells["cell-a"]["zone"] == "z-east"
    assert [c["cluster"] for c in cells["cell-a"]["clusters"]] == ["fed-a1", "fed-a2"]
    assert cells["cell-a"]["ready"] == 4 and cells["cell-b"]["ready"] == 2
    assert {z["zone"]: z["ready"] for z in found["zones"]} == {"z-east": 4, "z-west": 2}
    with pytest.raises(DomainError):
        service_endpoints(Propagation.objects.filter(resource__name="api", resource__ftype__kind="Deployment")
                          .first().resource)


def test_preview_shows_per_cluster_actions_and_diffs(topology, ftypes):
    res = create(topology, ftypes)
    entries = {e["cluster"]: e for e in preview(actor=SYSTEM, resource=res)}
    assert {e["action"] for e in entries.values()} == {"create"}
    converge()
    entries = {e["cluster"]: e for e in preview(actor=SYSTEM, resource=res)}
    assert {e["action"] for e in entries.values()} == {"unchanged"}, entries["fed-a1"]["diff"]
    overrides = [{"clusters": ["fed-a2"], "operations": [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1.27"}]}]
    entries = {e["cluster"]: e for e in preview(actor=SYSTEM, resource=res, overrides=overrides,
                                                placement={"cells": ["cell-a"]})}
    assert entries["fed-b1"]["action"] == "delete"
    assert entries["fed-a2"]["action"] == "update"
    assert "-      - image: nginx:1.25" in entries["fed-a2"]["diff"]
    assert "+      - image: nginx:1.27" in entries["fed-a2"]["diff"]
    assert "image: nginx:1.27" in entries["fed-a2"]["rendered"]
    res.refresh_from_db()
    assert res.generation == 1 and res.overrides == []  # nothing was saved
    with pytest.raises(DomainError) as err:
        preview(actor=SYSTEM, resource=res, placement={"clusters": ["nope"]})
    assert err.value.field == "placement.clusters[0]"


def test_secret_values_never_show_in_preview(topology, ftypes):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": "hunter2"}}
    res = create(topology, ftypes, kind="Secret", name="db", template=secret)
    converge()
    core = client.CoreV1Api(direct_client(topology["server"], "fed-a1"))
    assert core.read_namespaced_secret("db", "acme-prod").data["password"]  # it did arrive
    text = str(preview(actor=SYSTEM, resource=res)) + str(res.audit_fields())
    assert "hunter2" not in text


def test_crd_registered_from_a_cluster_and_federated(topology, ftypes):
    for name in ("fed-a1", "fed-a2", "fed-b1"):
        ext = client.ApiextensionsV1Api(direct_client(topology["server"], name))
        try:
            ext.create_custom_resource_definition(CRD)
        except client.ApiException as exc:
            assert exc.status == 409
    cluster = topology["clusters"]["fed-a1"]
    with pytest.raises(DomainError) as err:
        services.federated_type_register_crd(actor=SYSTEM, cluster=cluster, crd_name="gadgets.example.com")
    assert err.value.field == "crd"
    ftype = services.federated_type_register_crd(actor=SYSTEM, cluster=cluster, crd_name="widgets.example.com")
    assert (ftype.api_version, ftype.kind, ftype.plural, ftype.source) == ("example.com/v1", "Widget", "widgets", "crd")
    assert ftype.replicas_path == "spec.replicas" and "status.phase" in ftype.status_fields
    again = services.federated_type_register_crd(actor=SYSTEM, cluster=cluster, crd_name="widgets.example.com")
    assert again.pk == ftype.pk and FederatedType.objects.filter(kind="Widget").count() == 1
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"},
              "spec": {"replicas": 1, "colour": "blue"}}
    services.federated_resource_create(
        actor=SYSTEM, environment=topology["prod"], ftype=ftype, name="w1", template=widget,
        placement={"replicaScheduling": {"type": "Divided", "totalReplicas": 4, "weights": {"cell-b": 1}}},
        overrides=[{"clusters": ["fed-b1"], "operations": [{"op": "replace", "path": "/spec/colour",
                                                            "value": "red"}]}])
    converge()
    objects = client.CustomObjectsApi(direct_client(topology["server"], "fed-b1"))
    got = objects.get_namespaced_custom_object("example.com", "v1", "acme-prod", "widgets", "w1")
    assert got["spec"] == {"replicas": 4, "colour": "red"}
    other = client.CustomObjectsApi(direct_client(topology["server"], "fed-a1"))
    with pytest.raises(client.ApiException):
        other.get_namespaced_custom_object("example.com", "v1", "acme-prod", "widgets", "w1")


def test_metrics_expose_counts_only(topology, ftypes):
    create(topology, ftypes)
    body = Client().get("/metrics").content.decode()
    assert "paas_federation_queue_depth 3.0" in body
    converge()
    body = Client().get("/metrics").content.decode()
    assert "paas_federation_queue_depth 0.0" in body
    assert 'paas_federation_writes_total{operation="apply"}' in body
    assert "paas_federation_propagation_latency_seconds_bucket" in body
    samples = "\n".join(line for line in body.splitlines() if not line.startswith("#"))  # not the help texts
    assert "acme" not in samples and "web" not in samples
    assert Client().post("/metrics").status_code == 405


@pytest.mark.django_db
def test_metrics_are_not_open_to_everyone(personas, login, settings):
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    assert Client(**remote).get("/metrics").status_code == 403
    assert login(personas["owner"]).get("/metrics", **remote).status_code == 403
    operator = personas["operator"]
    operator.user_permissions.add(Permission.objects.get(content_type__app_label="clusters",
                                                         codename="view_cluster"))
    assert login(operator).get("/metrics", **remote).status_code == 200
    settings.METRICS_TOKEN = "scrape-secret-0123456789"
    assert Client().get("/metrics").status_code == 401  # a token, once set, is needed even on loopback
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    ok = Client(**remote).get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-0123456789")
    assert ok.status_code == 200 and b"paas_federation_queue_depth" in ok.content
