"""Pod logs on the release page against a real simulated cluster, reached as the product
reaches any cluster (its stored kubeconfig, clusters/kube.py, the official client): the tail
first, then only newer lines (the cursor), only pods of the release, per cluster and pod."""
import time
from pathlib import Path

import pytest
from kubernetes import client as k8s

from clusters.crypto import encrypt
from clusters.models import Cluster
from clusters.simulator.server import BackgroundServer
from releases.models import PodProgress
from tests.simulator import pod_is_ready, wait_for

from .pages_world import world

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    server = BackgroundServer(["logs-a"], tmp_path_factory.mktemp("kubesim"), ready_delay=0.1,
                              nodes_per_cluster=1).start()
    yield server
    server.stop()


def test_logs_stream_the_release_pods_through_the_cluster_api(sim, tenant, personas, login):
    w = world(tenant)
    text = Path(sim.server.cluster("logs-a").kubeconfig_path).read_text()
    cluster = w["clusters"][0]
    Cluster.objects.filter(pk=cluster.pk).update(credentials=encrypt(text))
    cluster.refresh_from_db()
    from clusters import kube

    core = k8s.CoreV1Api(kube.api_client(cluster))
    core.create_namespace({"metadata": {"name": "acme-test"}})
    for name in ("payments-api-api-k1-0", "not-in-the-release"):
        core.create_namespaced_pod("acme-test", {"metadata": {"name": name}, "spec": {
            "containers": [{"name": "api", "image": "nginx:1.25"}]}})
    wait_for(lambda: all(pod_is_ready(p) for p in core.list_namespaced_pod("acme-test").items), message="ready")
    PodProgress.objects.filter(release=w["release"], name="payments-api-api-k1-0").update(state="updating")
    client = login(personas["viewer"])
    url = f"/releases/{w['release'].pk}/logs.json"

    time.sleep(0.5)  # a few request lines
    first = client.get(url + f"?cluster={cluster.pk}&pod=payments-api-api-k1-0").json()
    assert first["errors"] == [] and first["pods"][0]["pod"] == "payments-api-api-k1-0"
    assert len(first["lines"]) >= 2 and all(line["cluster_slug"] == "k1" for line in first["lines"])
    assert any("nginx" in line["text"] or "GET" in line["text"] for line in first["lines"])
    stamps = [line["ts"] for line in first["lines"]]
    assert stamps == sorted(stamps) and stamps[-1] <= first["cursor"] + 1

    time.sleep(0.5)
    second = client.get(url + f"?pod=payments-api-api-k1-0&since={first['cursor']}").json()
    assert second["lines"] and all(line["ts"] > first["cursor"] for line in second["lines"])
    # Without a pod: the pods being updated (here the one marked "updating"); never another pod.
    chosen = client.get(url).json()
    assert [p["pod"] for p in chosen["pods"]] == ["payments-api-api-k1-0"]
    assert client.get(url + "?pod=not-in-the-release").status_code == 404
