"""Registry services against a real simulator: registration from a kubeconfig (and
refusals that name the problem), idempotent DR drills and switches that tell the
federation engine, bindings, and permission refusals that are audited."""
import pytest
import yaml

from clusters import services
from clusters.crypto import decrypt
from clusters.models import Cluster, EnvironmentBinding, PlatformSwitch
from paas.actors import Actor
from paas.audit.models import AuditEvent
from paas.errors import Conflict, DomainError
from paas.permissions import NotPermitted
from tests.factories import SYSTEM

from .conftest import kubeconfig_text, set_faults, sim_token

pytestmark = pytest.mark.django_db


def events(action):
    return AuditEvent.objects.filter(action=action, outcome="success")


def test_register_probes_encrypts_and_audits_without_credentials(topology, kubesim, federation):
    text = kubeconfig_text(kubesim, "reg-b")
    cluster = services.cluster_register(actor=SYSTEM, cell=topology["cell"], name="Reg B", slug="reg-b",
                                        kubeconfig_text=text, labels={"env-tier": "prod"}, weight=3)
    assert cluster.server == kubesim.server.cluster("reg-b").url
    assert cluster.kube_version.startswith("v1.")
    token = sim_token(kubesim, "reg-b")
    assert token.encode() not in bytes(cluster.credentials)
    assert token in decrypt(cluster.credentials)
    event = events("cluster.register").get()
    assert event.changes["after"]["slug"] == "reg-b" and token not in str(event.changes)
    assert federation.names() == ["topology_changed"]


@pytest.mark.parametrize(("text", "problem"), [
    ("", "Paste or upload a kubeconfig"),
    ("{not: [valid", "Not valid YAML"),
    ("kind: Pod\n", "expected kind: Config"),
    ("kind: Config\nclusters: []\ncontexts: [{name: a}]\nusers: [{name: u}]\n", "no 'clusters' entries"),
])
def test_bad_kubeconfig_is_refused_naming_the_problem(topology, text, problem):
    with pytest.raises(DomainError) as caught:
        services.cluster_register(actor=SYSTEM, cell=topology["cell"], name="X", slug="x", kubeconfig_text=text)
    assert problem in caught.value.message and caught.value.field == "kubeconfig"
    assert not Cluster.objects.exists()


def test_kubeconfig_without_server_address_is_refused(topology, kubesim):
    config = yaml.safe_load(kubeconfig_text(kubesim, "reg-b"))
    config["clusters"][0]["cluster"]["server"] = "reg-b.example:6443"
    with pytest.raises(DomainError, match="server address"):
        services.cluster_register(actor=SYSTEM, cell=topology["cell"], name="X", slug="x",
                                  kubeconfig_text=yaml.safe_dump(config))


def test_unreachable_server_is_refused_unless_probe_is_off(topology, kubesim):
    set_faults(kubesim, "reg-down", down=True)
    try:
        text = kubeconfig_text(kubesim, "reg-down")
        with pytest.raises(DomainError, match="cannot be reached") as caught:
            services.cluster_register(actor=SYSTEM, cell=topology["cell"], name="Down", slug="down",
                                      kubeconfig_text=text)
        assert sim_token(kubesim, "reg-down") not in caught.value.message
        assert not Cluster.objects.exists()
        cluster = services.cluster_register(actor=SYSTEM, cell=topology["cell"], name="Down", slug="down",
                                            kubeconfig_text=text, probe=False)
        assert cluster.health == Cluster.Health.UNKNOWN
    finally:
        set_faults(kubesim, "reg-down", down=False)


def test_rejected_credentials_are_refused(topology, kubesim):
    config = yaml.safe_load(kubeconfig_text(kubesim, "reg-b"))
    config["users"][0]["user"]["token"] = "wrong-token-value"
    with pytest.raises(DomainError, match="refused these credentials") as caught:
        services.cluster_register(actor=SYSTEM, cell=topology["cell"], name="X", slug="x",
                                  kubeconfig_text=yaml.safe_dump(config))
    assert "wrong-token-value" not in caught.value.message


def test_duplicate_slug_or_server_conflicts(cluster, topology, kubesim):
    with pytest.raises(Conflict, match="already exists"):
        services.cluster_register(actor=SYSTEM, cell=topology["cell"], name="A", slug="reg-a",
                                  kubeconfig_text=kubeconfig_text(kubesim, "reg-b"))
    with pytest.raises(Conflict, match="already registered"):
        services.cluster_register(actor=SYSTEM, cell=topology["cell"], name="A2", slug="reg-a2",
                                  kubeconfig_text=kubeconfig_text(kubesim, "reg-a"))


def test_labels_are_validated(topology):
    with pytest.raises(DomainError, match="not a valid label key"):
        services.cell_update(actor=SYSTEM, cell=topology["cell"], labels={"bad key": "x"})
    with pytest.raises(DomainError, match="reserved"):
        services.cell_update(actor=SYSTEM, cell=topology["cell"], labels={"paas.io/cell": "x"})


def test_replace_credentials_is_idempotent_and_audited(cluster, kubesim):
    text = kubeconfig_text(kubesim, "reg-a")
    services.cluster_replace_credentials(actor=SYSTEM, cluster=cluster, kubeconfig_text=text)
    assert not events("cluster.credentials.replace").exists()
    config = yaml.safe_load(text)
    config["preferences"] = {"colors": True}  # a different file, same cluster
    services.cluster_replace_credentials(actor=SYSTEM, cluster=cluster, kubeconfig_text=yaml.safe_dump(config))
    event = events("cluster.credentials.replace").get()
    assert sim_token(kubesim, "reg-a") not in str(event.changes)


def test_cordon_is_idempotent_audited_and_replans(cluster, federation):
    services.cluster_cordon(actor=SYSTEM, cluster=cluster, reason="kernel upgrade")
    services.cluster_cordon(actor=SYSTEM, cluster=cluster)
    cluster.refresh_from_db()
    assert cluster.cordoned and not cluster.schedulable
    assert events("cluster.cordon").get().reason == "kernel upgrade"
    assert federation.names() == ["topology_changed", "topology_changed"]  # register + one cordon
    services.cluster_uncordon(actor=SYSTEM, cluster=cluster)
    assert events("cluster.uncordon").count() == 1 and len(federation.calls) == 3


def test_cell_and_zone_drills_replan(cluster, topology, federation):
    federation.clear()
    services.cell_mark_failed(actor=SYSTEM, cell=topology["cell"], reason="drill")
    services.cell_mark_failed(actor=SYSTEM, cell=topology["cell"])
    services.zone_mark_failed(actor=SYSTEM, zone=topology["zone"])
    cluster.refresh_from_db()
    assert not cluster.schedulable
    services.zone_mark_recovered(actor=SYSTEM, zone=topology["zone"])
    services.cell_mark_recovered(actor=SYSTEM, cell=topology["cell"])
    assert federation.names() == ["topology_changed"] * 4
    assert events("topology.cell.mark_failed").count() == 1 and events("topology.zone.mark_recovered").count() == 1


def test_pause_and_resume_propagation(cluster, federation):
    federation.clear()
    services.cluster_pause_propagation(actor=SYSTEM, cluster=cluster)
    assert federation.calls == []  # stopping needs no re-plan
    services.cluster_resume_propagation(actor=SYSTEM, cluster=cluster)
    services.cluster_resume_propagation(actor=SYSTEM, cluster=cluster)
    assert federation.calls == [("cluster_switch_changed", None, "reg-a")]


def test_platform_switch_needs_a_reason_and_tells_federation_on_resume(db, federation):
    with pytest.raises(DomainError, match="why"):
        services.platform_stop_propagation(actor=SYSTEM, reason=" ")
    services.platform_stop_propagation(actor=SYSTEM, reason="bad config spreading")
    services.platform_stop_propagation(actor=SYSTEM, reason="again")
    switch = PlatformSwitch.get()
    assert switch.propagation_paused and switch.reason == "bad config spreading"
    assert switch.changed_by == "system:tests"
    services.platform_resume_propagation(actor=SYSTEM)
    assert federation.calls == [("cluster_switch_changed", None, None)]
    assert events("platform.propagation.stop").count() == 1 and events("platform.propagation.resume").count() == 1


def test_bindings_are_idempotent_audited_in_the_tenant_and_replan(cluster, topology, tenant, federation):
    federation.clear()
    prod = tenant.environments.get(slug="prod")
    first = services.environment_bind(actor=SYSTEM, environment=prod, cell=topology["cell"])
    again = services.environment_bind(actor=SYSTEM, environment=prod, cell=topology["cell"])
    assert first.pk == again.pk
    services.environment_bind(actor=SYSTEM, environment=prod, cluster=cluster)
    assert EnvironmentBinding.objects.filter(environment=prod).count() == 2
    assert events("cluster.binding.create").filter(tenant_slug="acme").count() == 2
    with pytest.raises(DomainError, match="either a cell or a cluster"):
        services.environment_bind(actor=SYSTEM, environment=prod)
    services.environment_unbind(actor=SYSTEM, binding=first)
    services.environment_unbind(actor=SYSTEM, binding=first)
    assert federation.names() == ["topology_changed"] * 3


def test_remove_cluster_replans_and_keeps_the_audit(cluster, federation):
    federation.clear()
    services.cluster_remove(actor=SYSTEM, cluster=cluster)
    assert not Cluster.objects.exists()
    assert federation.names() == ["topology_changed"]
    assert events("cluster.remove").get().changes["before"]["slug"] == "reg-a"


def test_topology_delete_refuses_non_empty(cluster, topology):
    with pytest.raises(Conflict, match="still has clusters"):
        services.cell_delete(actor=SYSTEM, cell=topology["cell"])
    with pytest.raises(Conflict, match="still has cells"):
        services.zone_delete(actor=SYSTEM, zone=topology["zone"])
    services.cell_delete(actor=SYSTEM, cell=topology["other_cell"])


def test_new_cell_is_added_to_worker_queues_on_commit(topology, _no_worker_broadcast,
                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        cell = services.cell_create(actor=SYSTEM, zone=topology["zone"], name="East 1c", slug="east-1c")
    assert cell.queue == "cell.east-1c"
    assert _no_worker_broadcast == ["cell.east-1c"]


@pytest.mark.parametrize("persona", ["owner", "developer", "viewer", "outsider"])
def test_tenant_members_cannot_run_operator_services(personas, cluster, topology, tenant, persona):
    actor = Actor.for_user(personas[persona])
    calls = [
        lambda: services.cluster_cordon(actor=actor, cluster=cluster),
        lambda: services.cell_mark_failed(actor=actor, cell=topology["cell"]),
        lambda: services.platform_stop_propagation(actor=actor, reason="x"),
        lambda: services.environment_bind(actor=actor, environment=tenant.environments.get(slug="dev"),
                                          cell=topology["cell"]),
        lambda: services.region_create(actor=actor, name="West", slug="west"),
    ]
    for call in calls:
        with pytest.raises(NotPermitted):
            call()
    assert AuditEvent.objects.filter(outcome="denied", actor_id=str(personas[persona].pk)).count() == len(calls)
    cluster.refresh_from_db()
    assert not cluster.cordoned and not PlatformSwitch.get().propagation_paused


def test_operator_may(personas, topology):
    actor = Actor.for_user(personas["operator"])
    services.cell_mark_failed(actor=actor, cell=topology["cell"])
    assert events("topology.cell.mark_failed").get().actor_label == "operator"
