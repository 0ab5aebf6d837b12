"""Issue 8: what a change costs grows with the clusters it touches, totals are recomputed
once per resource outside the clusters' transactions, and threads and clients stay bounded.
(The figures at 100 clusters are in `make bench`; these pin the mechanisms.)"""
import threading
from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from clusters import kube
from clusters.federation import kubeio, services, status, sync, tasks
from clusters.federation.models import FederatedResource, Propagation, StatusBacklog
from clusters.models import Cluster
from paas import locks
from paas.realtime import emit

from .conftest import SYSTEM, converge, deployment


def create(topology, ftypes, name="web", **kwargs):
    return services.federated_resource_create(actor=SYSTEM, environment=topology["prod"], ftype=ftypes["Deployment"],
                                              name=name, template=deployment(name, replicas=0), **kwargs)


def change_image(resource, image):
    template = deployment(resource.name, replicas=0, image=image)
    return services.federated_resource_update(actor=SYSTEM, resource=resource, template=template)


def statements_of(function) -> int:
    with CaptureQueriesContext(connection) as captured:
        function()
    return len(captured.captured_queries)


def test_one_run_over_three_clusters_costs_the_statements_of_a_run_over_one(topology, ftypes):
    one = create(topology, ftypes, "one", placement={"clusters": ["fed-a1"]})
    three = create(topology, ftypes, "three")
    converge()
    ids = [c.pk for c in Cluster.objects.order_by("pk")]
    change_image(one, "nginx:1.26")
    single = statements_of(lambda: sync.sync_clusters(ids, aggregate=False))
    assert Propagation.objects.get(resource=one).dirty is False
    change_image(three, "nginx:1.26")
    everywhere = statements_of(lambda: sync.sync_clusters(ids, aggregate=False))
    assert not Propagation.objects.filter(resource=three, dirty=True).exists()
    assert everywhere == single  # the reads and the record are shared, not repeated per cluster


def test_a_run_with_nothing_due_costs_no_write_and_no_call(topology, ftypes):
    create(topology, ftypes)
    converge()
    ids = [c.pk for c in Cluster.objects.all()]
    with mock.patch.object(kubeio, "apply") as apply, CaptureQueriesContext(connection) as captured:
        reports = sync.sync_clusters(ids)
    assert not apply.called and not any(r.recorded for r in reports)
    verbs = {q["sql"].split()[0].upper() for q in captured.captured_queries}
    assert verbs == {"SELECT"}, verbs
    assert list(tasks.clusters_due()) == []  # the tick finds nothing: no run is even sent


def test_totals_are_recomputed_once_per_resource_after_all_clusters_recorded(topology, ftypes, monkeypatch):
    resource = create(topology, ftypes)
    sent = []
    monkeypatch.setattr(emit, "to_group", lambda group, payload, **kw: sent.append(payload))
    aggregated = []
    real = status.aggregate
    monkeypatch.setattr(status, "aggregate", lambda r, rows: aggregated.append(r.pk) or real(r, rows))
    for cluster in Cluster.objects.all():  # one run per cluster, as three separate workers would
        sync.sync_cluster(cluster.pk, aggregate=False)
    assert aggregated == []  # nothing recomputed inside the clusters' runs
    assert StatusBacklog.objects.filter(resource_id=resource.pk).count() == 3
    assert status.aggregate_pending() == 1
    assert aggregated == [resource.pk]  # once, for the three clusters
    assert not StatusBacklog.objects.exists()
    resource.refresh_from_db()
    assert resource.status["converged"] and set(resource.status["clusters"]) == {"fed-a1", "fed-a2", "fed-b1"}
    synced = [p for p in sent if p["type"] == "federation.synced"]
    assert len(synced) == 1 and synced[0]["resources"] == [resource.pk]  # one event, not one per cluster


def test_a_recompute_running_elsewhere_leaves_the_backlog_to_it_and_the_tick_catches_up(topology, ftypes):
    resource = create(topology, ftypes)
    sync.sync_cluster(topology["clusters"]["fed-a1"].pk, aggregate=False)
    with locks.held("federation.status", 0) as acquired:
        assert acquired
        assert status.aggregate_pending() == 0  # returns at once, never waits
    assert StatusBacklog.objects.filter(resource_id=resource.pk).exists()
    with mock.patch.object(tasks.aggregate_status, "apply_async") as send:
        figures = tasks.tick()
    assert figures["aggregate"] == 1 and send.called
    assert tasks.aggregate_status.run() == {"changed": 1}
    assert FederatedResource.objects.get(pk=resource.pk).status["clusters"]["fed-a1"]["state"] == "applied"


def test_a_sync_task_asks_for_one_delayed_recompute(topology, ftypes):
    from django.core.cache import cache

    cache.clear()
    create(topology, ftypes)
    with mock.patch.object(tasks.aggregate_status, "apply_async") as send:
        tasks.sync_cell.run(topology["clusters"]["fed-a1"].cell_id)
        tasks.sync_cell.run(topology["clusters"]["fed-b1"].cell_id)
    assert send.call_count == 1  # the second run finds one already on its way
    assert send.call_args.kwargs["countdown"] == tasks.AGGREGATE_DELAY


@override_settings(FEDERATION_SYNC_CONCURRENCY=2, FEDERATION_API_THREADS=3)
def test_calls_run_on_one_bounded_pool_with_a_few_in_flight_per_cluster(topology, ftypes, monkeypatch):
    for i in range(8):
        create(topology, ftypes, f"app-{i}")
    monkeypatch.setattr(sync, "_pool", None)  # a pool sized by the settings above
    in_flight, peak, lock, callers = {}, {}, threading.Lock(), set()
    real = kubeio.apply

    def counting(client, path, obj, **kwargs):
        with lock:
            callers.add(threading.current_thread().name)
            in_flight[client.cluster_slug] = in_flight.get(client.cluster_slug, 0) + 1
            peak[client.cluster_slug] = max(peak.get(client.cluster_slug, 0), in_flight[client.cluster_slug])
        try:
            return real(client, path, obj, **kwargs)
        finally:
            with lock:
                in_flight[client.cluster_slug] -= 1

    monkeypatch.setattr(kubeio, "apply", counting)
    before = threading.active_count()
    for _round in range(3):
        converge()
        for i in range(8):
            change_image(FederatedResource.objects.get(name=f"app-{i}"), f"nginx:1.2{_round}")
    converge()
    assert max(peak.values()) == 2  # a few calls in flight per cluster, never more
    pool_threads = {name for name in callers if name.startswith("federation-api")}
    assert 1 < len(pool_threads) <= 3 and callers <= pool_threads | {threading.current_thread().name}
    assert threading.active_count() - before <= 3  # the shared pool, not a pool per cluster per run
    monkeypatch.setattr(sync, "_pool", None)


@override_settings(KUBE_CLIENT_CACHE_SIZE=2)
def test_the_client_cache_is_bounded_and_closes_what_it_drops(topology):
    kube.clear_clients()
    clusters = list(Cluster.objects.order_by("pk"))
    first = kube.api_client(clusters[0])
    with mock.patch.object(first.rest_client.pool_manager, "clear") as closed:
        for cluster in clusters:
            kube.api_client(cluster)
        assert kube.cached_clients() == 2
        assert closed.called  # its sockets released, not left to the garbage collector
    kube.clear_clients()


def test_removing_a_cluster_drops_its_client(topology):
    from clusters import services as cluster_services

    kube.clear_clients()
    cluster = topology["clusters"]["fed-b1"]
    kube.api_client(cluster)
    assert kube.cached_clients() == 1
    Propagation.objects.filter(cluster=cluster).delete()
    with mock.patch.object(cluster_services, "authorize_platform"), \
            mock.patch("django.db.transaction.on_commit", lambda fn, *a, **k: fn()):
        cluster_services.cluster_remove(actor=SYSTEM, cluster=cluster)
    assert kube.cached_clients() == 0
