"""Health checks through the cluster's own API: fields updated on every probe, an
audit event and a live event only when the state changes, and the beat fan-out
routing one task per cluster to its cell's queue."""
import pytest

from clusters import health, tasks
from clusters.models import Cluster
from paas.actors import Actor
from paas.audit.models import AuditEvent

from .conftest import set_faults

pytestmark = pytest.mark.django_db

HEALTH = Actor.for_system("clusters.health")


def test_check_records_version_nodes_pods(cluster):
    checked = health.check_cluster(cluster.pk, actor=HEALTH)
    assert checked.health == Cluster.Health.HEALTHY
    cluster.refresh_from_db()
    assert cluster.kube_version.startswith("v1.")
    assert cluster.node_count == 3
    assert cluster.pod_count is not None and cluster.pod_count >= 0
    assert cluster.last_checked_at is not None and cluster.last_error == ""


def test_a_stored_kubeconfig_that_cannot_be_loaded_is_an_error_state_not_a_crash(cluster):
    from clusters import kube
    from clusters.crypto import CredentialsUnreadable, encrypt

    # Decrypts fine but is no kubeconfig the client can load (edited row, restore mix-up).
    Cluster.objects.filter(pk=cluster.pk).update(credentials=encrypt("users: [{name: x, user: {token: s3cr3t-value}}]"))
    cluster.refresh_from_db()
    with pytest.raises(CredentialsUnreadable) as raised:
        kube.api_client(cluster)
    assert "s3cr3t-value" not in str(raised.value)
    checked = health.check_cluster(cluster.pk, actor=HEALTH)
    assert checked.health == Cluster.Health.ERROR
    assert "cannot be decrypted or loaded" in checked.last_error


def test_down_cluster_becomes_unreachable_and_only_changes_are_audited(topology, kubesim, cluster):
    from clusters import services
    from tests.factories import SYSTEM

    from .conftest import kubeconfig_text

    down = services.cluster_register(actor=SYSTEM, cell=topology["cell"], name="Down", slug="reg-down",
                                     kubeconfig_text=kubeconfig_text(kubesim, "reg-down"))
    health.check_cluster(down.pk, actor=HEALTH)
    set_faults(kubesim, "reg-down", down=True)
    try:
        health.check_cluster(down.pk, actor=HEALTH)
        health.check_cluster(down.pk, actor=HEALTH)
        down.refresh_from_db()
        assert down.health == Cluster.Health.UNREACHABLE
        assert down.last_error and down.node_count == 3  # the last known counts stay
    finally:
        set_faults(kubesim, "reg-down", down=False)
    health.check_cluster(down.pk, actor=HEALTH)
    down.refresh_from_db()
    assert down.health == Cluster.Health.HEALTHY and down.last_error == ""
    changes = list(AuditEvent.objects.filter(action="cluster.health.change", target_id=str(down.pk))
                   .order_by("id").values_list("changes__after__health", flat=True))
    assert changes == ["healthy", "unreachable", "healthy"]
    assert set(AuditEvent.objects.filter(action="cluster.health.change").values_list("actor_type", flat=True)) == {
        "system"}


def test_server_errors_are_an_error_state(cluster, kubesim):
    set_faults(kubesim, "reg-a", error_rate_500=1.0)
    try:
        report = health.probe(cluster)
    finally:
        set_faults(kubesim, "reg-a", error_rate_500=0.0)
    assert report.health == Cluster.Health.ERROR and "500" in report.error


def test_count_uses_remaining_item_count_or_pages():
    class Meta:
        def __init__(self, remaining=None, cont=None):
            self.remaining_item_count, self._continue = remaining, cont

    class Page:
        def __init__(self, n, **meta):
            self.items, self.metadata = [object()] * n, Meta(**meta)

    assert health.count_items(lambda **kw: Page(1, remaining=41)) == 42
    pages = iter([Page(1, cont="a"), Page(500, cont="b"), Page(7)])
    assert health.count_items(lambda **kw: next(pages)) == 508


def test_beat_fans_out_one_task_per_cluster_on_its_cell_queue(cluster, topology, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.check_cluster_health, "apply_async", lambda **kw: sent.append(kw))
    assert tasks.check_all_clusters() == 1
    assert sent == [{"args": [cluster.pk], "queue": "cell.east-1a", "expires": tasks.CHECK_EXPIRES}]


def test_task_checks_and_tolerates_a_removed_cluster(cluster):
    assert tasks.check_cluster_health.run(cluster.pk) == "healthy"
    assert tasks.check_cluster_health.run(999_999) is None


def test_beat_schedule_has_the_health_check(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["check-cluster-health"]
    assert entry["task"] == "clusters.tasks.check_all_clusters"
    assert entry["schedule"].total_seconds() == 30
