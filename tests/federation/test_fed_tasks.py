"""Tasks and wiring: per-cell queues, enqueue on commit, the beat jobs, one run per
cluster at a time, re-planning after registry changes, and the demo loader."""
from unittest import mock

from django.core.cache import cache

from clusters.federation import hooks, services, tasks
from clusters.federation.demo import load_demo_federation
from clusters.federation.models import FederatedResource, Propagation
from clusters.models import EnvironmentBinding, PlatformSwitch
from paas import locks

from .conftest import SYSTEM, converge, deployment


def create(topology, ftypes, name="web", **kwargs):
    return services.federated_resource_create(actor=SYSTEM, environment=topology["prod"], ftype=ftypes["Deployment"],
                                              name=name, template=deployment(name), **kwargs)


def test_changes_enqueue_one_sync_per_cell_on_commit_on_the_cells_queues(
        topology, ftypes, django_capture_on_commit_callbacks):
    cache.clear()
    with mock.patch.object(tasks.sync_cell, "apply_async") as send:
        with django_capture_on_commit_callbacks(execute=True):
            create(topology, ftypes)
        sent = sorted((c.kwargs["args"][0], c.kwargs["queue"]) for c in send.call_args_list)
    clusters = topology["clusters"]
    assert sent == sorted([(clusters["fed-a1"].cell_id, "cell.cell-a"), (clusters["fed-b1"].cell_id, "cell.cell-b")])


def test_a_cell_run_syncs_every_due_cluster_of_the_cell_and_skips_one_running_elsewhere(topology, ftypes):
    create(topology, ftypes)
    a1, a2 = topology["clusters"]["fed-a1"], topology["clusters"]["fed-a2"]
    with locks.held(tasks.lock_name("sync"), a2.pk) as acquired:
        assert acquired
        result = tasks.sync_cell.run(a1.cell_id)
    assert [r["cluster"] for r in result["clusters"]] == ["fed-a1"] and result["already_running"] == [a2.pk]
    assert result["clusters"][0]["applied"] == 1
    assert Propagation.objects.get(cluster=a1).dirty is False
    assert Propagation.objects.get(cluster=a2).dirty is True
    result = tasks.sync_cell.run(a1.cell_id)
    assert [r["cluster"] for r in result["clusters"]] == ["fed-a2"]  # a1 is no longer due
    assert Propagation.objects.get(cluster=topology["clusters"]["fed-b1"]).dirty is True  # another cell's


def test_nothing_is_enqueued_when_the_transaction_rolls_back(topology, ftypes, django_capture_on_commit_callbacks):
    with mock.patch.object(tasks.sync_cell, "apply_async") as send:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            create(topology, ftypes)
        assert callbacks and not send.called  # only sent if (and when) the commit happens


def test_tick_enqueues_due_clusters_once_and_respects_switches(topology, ftypes):
    cache.clear()
    create(topology, ftypes, placement={"cells": ["cell-a"]})
    with mock.patch.object(tasks.sync_cell, "apply_async") as send:
        assert tasks.tick() == {"sync": 1}  # one run for the cell's two clusters
        assert {c.kwargs["queue"] for c in send.call_args_list} == {"cell.cell-a"}
        assert tasks.tick() == {"sync": 0}  # already queued, not yet picked up
        cache.clear()
        for slug in ("fed-a1", "fed-a2"):
            cluster = topology["clusters"][slug]
            cluster.propagation_paused = True
            cluster.save()
        assert tasks.tick() == {"sync": 0}
        cluster.propagation_paused = False
        cluster.save()
        assert tasks.tick() == {"sync": 1}
        cache.clear()
        switch = PlatformSwitch.get()
        switch.propagation_paused = True
        switch.save()
        assert tasks.tick() == {"sync": 0}


def test_one_sync_per_cluster_at_a_time(topology, ftypes):
    create(topology, ftypes)
    cluster = topology["clusters"]["fed-a1"]
    with locks.held(tasks.lock_name("sync"), cluster.pk) as acquired:
        assert acquired
        assert tasks.sync_cluster.run(cluster.pk) == {"skipped": "already running"}
    result = tasks.sync_cluster.run(cluster.pk)
    assert result["applied"] == 1 and result["cluster"] == "fed-a1"
    assert tasks.sync_cluster.run(10 ** 9) == {"cluster": "", "skipped": "gone", "applied": 0, "deleted": 0,
                                                "unchanged": 0, "errors": 0, "namespaces": 0}


def test_collect_all_skips_unreachable_clusters(topology, ftypes):
    cache.clear()
    create(topology, ftypes)
    converge()
    cluster = topology["clusters"]["fed-b1"]
    cluster.health = "unreachable"
    cluster.save()
    with mock.patch.object(tasks.collect_status, "apply_async") as send:
        assert tasks.collect_all() == {"collect": 2}
        assert "cell.cell-b" not in {c.kwargs["queue"] for c in send.call_args_list}


def test_a_new_binding_places_existing_resources(topology, ftypes):
    res = create(topology, ftypes, name="svc")
    dev = topology["dev"]
    dev_res = services.federated_resource_create(actor=SYSTEM, environment=dev, ftype=ftypes["Deployment"],
                                                 name="svc", template=deployment("svc"))
    assert [p.cluster.slug for p in dev_res.propagations.all()] == ["fed-b1"]
    EnvironmentBinding.objects.create(environment=dev, cell=topology["cells"]["cell-a"])
    hooks.topology_changed(actor=SYSTEM, reason="binding added")
    assert sorted(p.cluster.slug for p in dev_res.propagations.all()) == ["fed-a1", "fed-a2", "fed-b1"]
    assert res.propagations.count() == 3  # prod unchanged
    assert not Propagation.objects.filter(resource=res, dirty=False).exists()


def test_demo_is_idempotent(topology):
    lines = load_demo_federation(actor=SYSTEM)
    assert len(lines) == 3 and all("created" in line for line in lines)
    api = FederatedResource.objects.get(name="payments-api", ftype__kind="Deployment")
    planned = {p.cluster.slug: p.planned_replicas for p in api.propagations.all()}
    assert sum(planned.values()) == 12 and planned == {"fed-a1": 4, "fed-a2": 4, "fed-b1": 4}
    assert all("exists" in line for line in load_demo_federation(actor=SYSTEM))
    assert FederatedResource.objects.count() == 3
    converge()


def test_a_cluster_holding_federated_objects_cannot_be_deleted(topology, ftypes):
    import pytest
    from django.db.models import ProtectedError

    create(topology, ftypes, placement={"cells": ["cell-a"]})
    converge()
    cluster = topology["clusters"]["fed-a1"]
    with pytest.raises(ProtectedError):
        cluster.delete()
    cluster.cordoned = True
    cluster.save()
    hooks.topology_changed(actor=SYSTEM, reason="cordon")
    converge()
    assert Propagation.objects.get(cluster=cluster).state == "removed"
    cluster.delete()
    assert not Propagation.objects.filter(cluster_id=cluster.pk).exists()


def test_a_sync_killed_mid_run_does_not_block_the_next(topology, ftypes):
    """The per-cluster lock dies with its holder: a SIGKILLed worker's lock is gone at once
    (the cache lock it replaces blocked every retry for its 150 s TTL)."""
    import os
    import signal

    from tests.test_locks import hold_in_child

    create(topology, ftypes)
    cluster = topology["clusters"]["fed-a1"]
    child = hold_in_child(tasks.lock_name("sync"), cluster.pk)
    try:
        assert tasks.sync_cluster.run(cluster.pk) == {"skipped": "already running"}
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    assert tasks.sync_cluster.run(cluster.pk)["applied"] == 1


def test_tick_enqueues_without_the_cache_and_survives_a_broker_outage(topology, ftypes, monkeypatch, caplog):
    """With Redis down the queued marker fails open and a failed send is logged, not raised."""
    create(topology, ftypes, placement={"cells": ["cell-a"]})

    def broken(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(tasks.cache, "add", broken)
    with mock.patch.object(tasks.sync_cell, "apply_async", side_effect=OSError("broker down")) as send:
        assert tasks.tick() == {"sync": 0}
    assert send.call_count == 1
    assert "not enqueued" in caplog.text
