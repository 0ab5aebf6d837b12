"""Workload drill-down against the simulator: pods with their columns, Events of a
crash-looping Deployment, logs (text, download, audit), the permission matrix, a hung
member cluster, and hostile API parameters."""
import time
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes import client
from rest_framework.test import APIClient

from clusters.federation import drilldown, services
from paas.audit.models import AuditEvent

from .conftest import SYSTEM, converge, deployment, direct_client, sim_admin, wait_for


@pytest.fixture
def web(topology, ftypes):
    resource = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                                  ftype=ftypes["Deployment"], name="web",
                                                  template=deployment("web", replicas=3))
    converge()
    return resource


def page(resource, cluster="fed-a1", tail=""):
    return f"/federation/acme/prod/{resource.pk}/clusters/{cluster}/{tail}"


def api_base(resource):
    return f"/api/v1/tenants/acme/federated-resources/{resource.pk}/"


def api_client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def running_pods(resource, cluster="fed-a1", count=None):
    target = drilldown.target_for(resource, cluster)

    def ready():
        rows = drilldown.pods(target)
        done = rows and all(r["phase"] == "Running" and r["ready"] == r["containers_total"] for r in rows)
        return rows if done and (count is None or len(rows) == count) else None

    return wait_for(ready, timeout=15, message=f"running pods in {cluster}")


def test_pods_are_read_live_with_their_columns(personas, login, web):
    rows = running_pods(web)
    placed = web.propagations.get(cluster__slug="fed-a1").planned_replicas
    assert len(rows) == placed
    pod = rows[0]
    assert pod["name"].startswith("web-") and pod["node"] and pod["pod_ip"]
    assert pod["images"] == ["nginx:1.25"] and pod["containers"] == ["main"] and pod["restarts"] == 0
    client = login(personas["developer"])
    html = client.get(page(web)).content.decode()
    assert 'hx-trigger="load"' in html and "Asking cluster fed-a1" in html  # the page never waits for the cluster
    part = client.get(page(web, tail="pods.part/")).content.decode()
    for text in (pod["name"], pod["node"], pod["pod_ip"], "nginx:1.25", "1/1", "Running", "?pod="):
        assert text in part
    body = api_client_for(personas["viewer"]).get(api_base(web) + "pods/", {"cluster": "fed-a1"}).json()
    assert body["selector"] == "app=web" and body["namespace"] == "acme-prod"
    assert {p["name"] for p in body["pods"]} == {r["name"] for r in rows}
    assert set(body["pods"][0]) >= {"phase", "ready", "containers_total", "restarts", "node", "pod_ip", "created",
                                    "images", "reason"}


def test_the_detail_page_links_each_cluster_to_its_pods(personas, login, web):
    html = login(personas["viewer"]).get(f"/federation/acme/prod/{web.pk}/status/").content.decode()
    for cluster in ("fed-a1", "fed-a2", "fed-b1"):
        assert f'href="{page(web, cluster)}"' in html


def test_a_crash_looping_deployment_shows_why(personas, login, topology, ftypes):
    resource = services.federated_resource_create(
        actor=SYSTEM, environment=topology["prod"], ftype=ftypes["Deployment"], name="crashy",
        template=deployment("crashy", replicas=1, image="busybox:crashloop"))
    converge()
    cluster = next(r.cluster.slug for r in resource.propagations.all() if r.planned_replicas)
    target = drilldown.target_for(resource, cluster)
    rows = wait_for(lambda: [r for r in drilldown.pods(target) if r["reason"] == "CrashLoopBackOff"],
                    timeout=15, message="CrashLoopBackOff")
    assert rows[0]["ready"] == 0
    part = login(personas["viewer"]).get(page(resource, cluster, "pods.part/")).content.decode()
    assert "CrashLoopBackOff" in part


def test_a_crash_looping_deployment_has_a_warning_backoff_event(personas, login, topology, ftypes):
    resource = services.federated_resource_create(
        actor=SYSTEM, environment=topology["prod"], ftype=ftypes["Deployment"], name="crashy",
        template=deployment("crashy", replicas=1, image="busybox:crashloop"))
    converge()
    cluster = next(r.cluster.slug for r in resource.propagations.all() if r.planned_replicas)
    target = drilldown.target_for(resource, cluster)
    # Kubernetes semantics (the simulator emits Events with the "simev" branch): the kubelet's
    # Warning BackOff about the pod, newest first, highlighted on the page.
    events = wait_for(lambda: [e for e in drilldown.events(target) if e["reason"] == "BackOff"],
                      timeout=20, message="a BackOff event")
    assert events[0]["type"] == "Warning" and events[0]["object"].startswith("Pod/crashy-")
    part = login(personas["viewer"]).get(page(resource, cluster, "events.part/")).content.decode()
    assert 'class="drill-warning"' in part and "BackOff" in part
    body = api_client_for(personas["viewer"]).get(api_base(resource) + "events/", {"cluster": cluster}).json()
    stamps = [drilldown.parse_time(e["last_seen"]) for e in body["events"]]
    assert stamps == sorted(stamps, reverse=True)


ROLES = [("developer", 200, 200), ("viewer", 200, 403), ("auditor", 200, 403), ("outsider", 404, 404)]


@pytest.mark.parametrize("who,read,logs", ROLES)
def test_permission_matrix(personas, login, web, who, read, logs):
    pod = running_pods(web)[0]["name"]
    client = login(personas[who])
    for tail in ("", "events/", "pods.part/", "events.part/"):
        assert client.get(page(web, tail=tail)).status_code == read, tail
    for tail in ("logs/", "logs/pods.part/", f"logs/text/?pod={pod}", f"logs/download/?pod={pod}"):
        assert client.get(page(web, tail=tail)).status_code == logs, tail
    rest = api_client_for(personas[who])
    for name in ("pods", "events"):
        assert rest.get(api_base(web) + f"{name}/", {"cluster": "fed-a1"}).status_code == read
    response = rest.get(api_base(web) + "logs/", {"cluster": "fed-a1", "pod": pod})
    assert response.status_code == logs
    if logs != 200:
        assert response["Content-Type"].startswith("application/json") and response.json()["error"]["code"]
    if who == "viewer":
        assert "Logs" not in client.get(page(web)).content.decode().split('nav-tabs')[1].split("</ul>")[0]
        denied = AuditEvent.objects.filter(action="federation.logs.view", outcome="denied")
        assert denied.exists()


def test_log_text_and_download_are_audited_without_their_content(personas, login, web):
    pod = running_pods(web)[0]["name"]
    client = login(personas["developer"])
    text = client.get(page(web, tail="logs/text/"), {"pod": pod, "tailLines": 50, "timestamps": "true"})
    assert text.status_code == 200 and text.content.decode().strip()
    download = client.get(page(web, tail="logs/download/"), {"pod": pod, "container": "main"})
    assert download.status_code == 200 and download["Content-Type"].startswith("text/plain")
    assert download["Content-Disposition"] == f'attachment; filename="fed-a1_{pod}_main.log"'
    event = AuditEvent.objects.get(action="federation.logs.download")
    assert event.user_id == personas["developer"].pk and event.target_id == str(web.pk)
    after = event.changes["after"]
    assert (after["cluster"], after["pod"], after["container"]) == ("fed-a1", pod, "main")
    assert download.content.decode().strip() not in str(event.changes)  # the log itself is never recorded
    assert AuditEvent.objects.filter(action="federation.logs.view", outcome="success").count() == 1
    response = api_client_for(personas["developer"]).get(api_base(web) + "logs/", {"cluster": "fed-a1", "pod": pod,
                                                                        "tailLines": 10})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert AuditEvent.objects.filter(action="federation.logs.view", outcome="success").count() == 2


def test_a_pod_of_another_workload_is_refused(personas, login, web, topology, ftypes):
    services.federated_resource_create(actor=SYSTEM, environment=topology["prod"], ftype=ftypes["Deployment"],
                                       name="other", template=deployment("other", replicas=3))
    converge()
    foreign = running_pods(web.__class__.objects.get(name="other"))[0]["name"]
    response = login(personas["developer"]).get(page(web, tail="logs/text/"), {"pod": foreign})
    assert response.status_code == 400 and "not a pod of this workload" in response.content.decode()


def test_a_hung_cluster_costs_a_sentence_not_the_page(personas, login, web, topology, monkeypatch):
    running_pods(web)
    monkeypatch.setattr(drilldown, "DEADLINE", 1.0)
    sim_admin(topology["server"], "fed-a1", {"latency_ms": 8000})
    client = login(personas["viewer"])
    started = time.monotonic()
    part = client.get(page(web, tail="pods.part/"))
    assert part.status_code == 200
    assert "Cluster fed-a1 did not answer in 1 s." in part.content.decode()
    response = api_client_for(personas["viewer"]).get(api_base(web) + "events/", {"cluster": "fed-a1"})
    assert response.status_code == 504 and response.json()["error"]["message"] == "Cluster fed-a1 did not answer in 1 s."
    assert time.monotonic() - started < 6  # two reads, neither waited for the 8 s cluster
    other = client.get(page(web, "fed-b1", "pods.part/")).content.decode()
    assert "did not answer" not in other  # the other clusters are not affected


@pytest.mark.parametrize("params,status", [
    ({"cluster": "fed-a1", "pod": "x", "tailLines": 10**12}, 400),
    ({"cluster": "fed-a1", "pod": "x", "tailLines": "-1"}, 400),
    ({"cluster": "fed-a1", "pod": "x", "sinceSeconds": "soon"}, 400),
    ({"cluster": "../../x", "pod": "x"}, 400),
    ({"cluster": "fed-a1", "pod": "pöd\u202e"}, 400),
    ({"cluster": "fed-a1", "pod": "x", "container": "A" * 300}, 400),
    ({"cluster": "nope", "pod": "x"}, 404),
    ({"pod": "x"}, 400),
])
def test_hostile_log_parameters_are_refused_in_json(personas, web, params, status):
    response = api_client_for(personas["developer"]).get(api_base(web) + "logs/", params)
    assert response.status_code == status
    assert response.json()["error"]["status"] == status


def test_page_log_parameters_are_bounded(personas, login, web):
    client = login(personas["developer"])
    for params in ({"pod": "web-x", "tailLines": 10**9}, {"pod": "ünïcode"}, {"pod": "web-x", "container": "B!"}):
        response = client.get(page(web, tail="logs/text/"), params)
        assert response.status_code == 400 and response["Content-Type"].startswith("text/plain")


def test_not_a_workload_has_no_drill_down(personas, login, topology, ftypes):
    configmap = services.federated_resource_create(
        actor=SYSTEM, environment=topology["prod"], ftype=ftypes["ConfigMap"], name="settings",
        template={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "b"}})
    assert login(personas["developer"]).get(page(configmap)).status_code == 404
    response = api_client_for(personas["developer"]).get(api_base(configmap) + "pods/", {"cluster": "fed-a1"})
    assert response.status_code == 404 and response.json()["error"]["code"]


def _event(api, name, kind, obj, reason, message, *, type_="Normal", order_back=10, count=1):
    # Dated after anything the simulator recorded so far (the page keeps the newest 200), in a known order.
    when = (datetime.now(UTC) + timedelta(seconds=60 - order_back)).strftime("%Y-%m-%dT%H:%M:%SZ")
    core = client.CoreV1Api(api)
    core.create_namespaced_event("acme-prod", {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "acme-prod"},
        "involvedObject": {"kind": kind, "name": obj, "namespace": "acme-prod"}, "reason": reason,
        "message": message, "type": type_, "count": count, "firstTimestamp": when, "lastTimestamp": when,
        "source": {"component": "drill-test"}})


def test_events_of_the_workload_its_replicasets_and_pods_newest_first(personas, login, web, topology):
    pods = running_pods(web)
    secret = "s3cr3t-Passw0rd"
    web.template["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "PASSWORD", "value": secret}]
    web.save(update_fields=["template"])
    web.ftype.sensitive_paths = ["spec.template.spec.containers[*].env[*].value"]
    web.ftype.save(update_fields=["sensitive_paths"])
    api = direct_client(topology["server"], "fed-a1")
    try:
        _event(api, "e1", "Deployment", "web", "ScalingReplicaSet", "Scaled up replica set web-abc to 1",
               order_back=10)
        _event(api, "e2", "ReplicaSet", "web-5d9c7b", "SuccessfulCreate", "Created pod: x",
               order_back=9)
        _event(api, "e3", "Pod", pods[0]["name"], "BackOff", f"Back-off restarting; env PASSWORD={secret}",
               type_="Warning", order_back=7, count=7)
        _event(api, "e4", "Pod", "web-5d9c7b-gone1", "Killing", "Stopping container main",
               order_back=8)
        _event(api, "e5", "Pod", "webshop-1", "Pulled", "not ours", order_back=6)
        _event(api, "e6", "Deployment", "web-api", "ScalingReplicaSet", "not ours either")
    finally:
        api.close()
    rows = drilldown.events(drilldown.target_for(web, "fed-a1"))
    # Only the events made here: the simulator may add its own.
    rows = [r for r in rows if r["source"] == "drill-test"]
    assert [r["reason"] for r in rows] == ["BackOff", "Killing", "SuccessfulCreate", "ScalingReplicaSet"]
    assert rows[0]["type"] == "Warning" and rows[0]["count"] == 7 and rows[0]["source"] == "drill-test"
    assert secret not in rows[0]["message"] and "PASSWORD=***" in rows[0]["message"]
    part = login(personas["viewer"]).get(page(web, tail="events.part/")).content.decode()
    assert 'class="drill-warning"' in part and secret not in part and "not ours" not in part
    body = api_client_for(personas["auditor"]).get(api_base(web) + "events/", {"cluster": "fed-a1"}).json()
    assert "BackOff" in [e["reason"] for e in body["events"]] and secret not in str(body)


def test_api_log_is_text_whatever_accept_says_and_errors_stay_json(personas, web):
    pod = running_pods(web)[0]["name"]
    client = api_client_for(personas["developer"])
    ok = client.get(api_base(web) + "logs/", {"cluster": "fed-a1", "pod": pod}, HTTP_ACCEPT="text/plain")
    assert ok.status_code == 200 and ok["Content-Type"].startswith("text/plain") and ok.content.decode().strip()
    bad = client.get(api_base(web) + "logs/", {"cluster": "fed-a1", "pod": pod, "container": "nope"},
                     HTTP_ACCEPT="text/plain")
    assert bad.status_code == 400 and bad.json()["error"]["fields"] == {"container": [f"Pod {pod} has no container nope."]}
