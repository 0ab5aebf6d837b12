"""Disaster-recovery drill against the simulator: marking a cell failed and recovering it
moves replicas make-before-break (the total of ready replicas never drops below what
is desired), an unreachable source is not waited for, and the impact preview (API and
page) says what moves where before anything changes."""
import pytest
from django.contrib.auth.models import Permission
from kubernetes import client

from clusters import health, services
from clusters.federation import handoff, impact, status, sync
from clusters.federation import services as fed_services
from clusters.federation.models import Handoff, Propagation
from clusters.models import Cell, Cluster
from paas.audit.models import AuditEvent

from .conftest import SYSTEM, converge, deployment, direct_client, sim_admin

DESIRED = 9
NINE_OVER_THREE = {"replicaScheduling": {"type": "Divided", "totalReplicas": DESIRED}}


def ready_by_cluster(server) -> dict[str, int]:
    """What the member clusters themselves report (not our bookkeeping)."""
    found = {}
    for name in ("fed-a1", "fed-a2", "fed-b1"):
        api = direct_client(server, name)
        try:
            dep = client.AppsV1Api(api).read_namespaced_deployment("web", "acme-prod")
            found[name] = dep.status.ready_replicas or 0
        except client.ApiException as exc:
            assert exc.status == 404
        finally:
            api.close()
    return found


def drill(server, order: list[str], *, rounds: int = 200) -> list[dict]:
    """Sync cluster by cluster in `order` and collect status (as the workers and the beat
    would), sampling the ready replicas after every single step; until settled."""
    samples = []
    clusters = [Cluster.objects.get(slug=slug) for slug in order]
    for _ in range(rounds):
        for cluster in clusters:
            sync.sync_cluster(cluster.pk)
            samples.append(ready_by_cluster(server))
        for cluster in clusters:
            status.collect_status(cluster.pk)
            samples.append(ready_by_cluster(server))
        if not Handoff.objects.exists() and not Propagation.objects.filter(dirty=True).exists():
            settled = ready_by_cluster(server)
            if sum(settled.values()) >= DESIRED:
                return samples
    raise AssertionError(f"the drill did not settle: {samples[-3:]}")


@pytest.fixture
def web(topology, ftypes):
    resource = fed_services.federated_resource_create(
        actor=SYSTEM, environment=topology["prod"], ftype=ftypes["Deployment"], name="web",
        template=deployment(replicas=3), placement=NINE_OVER_THREE)
    converge()
    drill(topology["server"], ["fed-a1", "fed-a2", "fed-b1"])
    assert ready_by_cluster(topology["server"]) == {"fed-a1": 3, "fed-a2": 3, "fed-b1": 3}
    return resource


def test_failover_and_recovery_never_drop_ready_replicas(topology, web):
    server, cell = topology["server"], topology["cells"]["cell-a"]
    services.cell_mark_failed(actor=SYSTEM, cell=cell, reason="drill")
    # The sources first: without make-before-break they would be removed before fed-b1 is ready.
    samples = drill(server, ["fed-a1", "fed-a2", "fed-b1"])
    assert all(sum(s.values()) >= DESIRED for s in samples), min(samples, key=lambda s: sum(s.values()))
    assert any(s.get("fed-b1") == DESIRED and s.get("fed-a1") for s in samples)  # both sides ran at once
    assert ready_by_cluster(server) == {"fed-b1": DESIRED}
    release = AuditEvent.objects.get(action="federation.handoff.release")
    assert set(release.changes["after"]["released"]) == {"fed-a1", "fed-a2"}

    services.cell_mark_recovered(actor=SYSTEM, cell=Cell.objects.get(pk=cell.pk), reason="drill over")
    held = Handoff.objects.get(resource=web)
    assert held.releases == {str(topology["clusters"]["fed-b1"].pk): 3}
    samples = drill(server, ["fed-b1", "fed-a1", "fed-a2"])
    assert all(sum(s.values()) >= DESIRED for s in samples), min(samples, key=lambda s: sum(s.values()))
    assert ready_by_cluster(server) == {"fed-a1": 3, "fed-a2": 3, "fed-b1": 3}


def test_unreachable_source_is_break_before_make_and_not_waited_for(topology, web):
    server, cell = topology["server"], topology["cells"]["cell-a"]
    sim_admin(server, "fed-a2", {"down": True})
    assert health.check_cluster(topology["clusters"]["fed-a2"].pk, actor=SYSTEM).health == "unreachable"
    preview = impact.preview(cell, failed=True)
    (move,) = preview["moves"]
    assert move["mode"] == impact.BREAK_BEFORE_MAKE and move["unreachable"] == ["fed-a2"]
    assert preview["break_before_make"] is True

    services.cell_mark_failed(actor=SYSTEM, cell=cell, reason="real outage")
    rows = {r.cluster.slug: r for r in Propagation.objects.select_related("cluster")}
    assert rows["fed-a2"].state == "removing" and rows["fed-a2"].dirty  # not held: nothing to wait for
    assert rows["fed-a1"].state == "applied" and rows["fed-a1"].planned_replicas == 3  # reachable: held
    assert Handoff.objects.get(resource=web).releases == {str(rows["fed-a1"].cluster_id): None}


def test_stalled_handoff_is_reported_and_an_operator_may_force_it(topology, web, settings, personas, login):
    services.cell_mark_failed(actor=SYSTEM, cell=topology["cells"]["cell-a"], reason="drill")
    held = Handoff.objects.get(resource=web)
    settings.FEDERATION_HANDOFF_TIMEOUT = 0
    shown = handoff.describe(held)
    assert shown["stalled"] and shown["waiting_for"] == ["fed-b1"]
    assert shown["message"].startswith("handoff waiting for fed-b1 to become ready for")
    with pytest.raises(Exception):  # noqa: B017 - NotPermitted, whatever its base
        handoff.force(actor=_actor(personas["developer"]), handoff=held)
    assert Handoff.objects.filter(pk=held.pk).exists()
    handoff.force(actor=SYSTEM, handoff=held)
    assert not Handoff.objects.exists()
    assert set(Propagation.objects.filter(state="removing").values_list("cluster__slug", flat=True)) == {
        "fed-a1", "fed-a2"}
    assert AuditEvent.objects.filter(action="federation.handoff.force").exists()


def _actor(user):
    from paas.actors import Actor

    return Actor.for_user(user)


@pytest.fixture
def operator(personas):
    user = personas["operator"]
    user.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="clusters", codename__in=["mark_cell_failed", "mark_zone_failed", "view_cell"]))
    return user


def test_impact_preview_api_and_page(topology, web, operator, personas, login):
    quota = topology["prod"].quota
    quota.pods = 5
    quota.save()
    api = login(operator)
    answer = api.get("/api/v1/cells/cell-a/impact/?failed=true")
    assert answer.status_code == 200, answer.content
    data = answer.json()
    (move,) = data["moves"]
    assert move["resource"] == "Deployment/web" and move["mode"] == "make-before-break"
    assert move["from"] == [{"cluster": "fed-a1", "before": 3, "after": 0},
                            {"cluster": "fed-a2", "before": 3, "after": 0}]
    assert move["to"] == [{"cluster": "fed-b1", "before": 3, "after": 9}]
    assert [c["cluster"] for c in data["capacity"]] == ["fed-b1"] and data["capacity"][0]["added_pods"] == 6
    (quota_check,) = data["quotas"]
    assert not quota_check["ok"] and "needs 9 pods, the quota allows 5" in quota_check["problems"][0]
    assert data["ok"] is False

    dry = api.post("/api/v1/cells/cell-a/mark-failed/?dry_run=1", {}, content_type="application/json")
    assert dry.status_code == 200 and dry.json()["moves"] == data["moves"]
    assert not Cell.objects.get(slug="cell-a").failed  # a dry run changes nothing
    assert api.get("/api/v1/cells/cell-a/impact/?failed=maybe").status_code == 400

    page = api.get("/clusters/-/cells/cell-a/impact/?failed=1").content.decode()
    assert "make-before-break" in page and "fed-b1" in page and "needs 9 pods, the quota allows 5" in page
    confirm = api.get("/clusters/-/cells/cell-a/fail/")
    assert confirm.status_code == 200 and "Deployment/web" in confirm.content.decode()
    assert not Cell.objects.get(slug="cell-a").failed
    zone = api.get("/api/v1/zones/z-east/impact/?failed=true").json()
    assert zone["moves"][0]["to"] == move["to"]

    developer = login(personas["developer"])
    assert developer.get("/api/v1/cells/cell-a/impact/").status_code == 403
    assert developer.get("/clusters/-/cells/cell-a/impact/").status_code == 403


def test_cell_page_lists_a_stalled_handoff_and_the_operator_forces_it(topology, web, operator, login, settings):
    services.cell_mark_failed(actor=SYSTEM, cell=topology["cells"]["cell-a"], reason="drill")
    held = Handoff.objects.get(resource=web)
    settings.FEDERATION_HANDOFF_TIMEOUT = 0
    page = login(operator).get("/clusters/-/cells/cell-b/").content.decode()
    assert "handoff waiting for fed-b1 to become ready for" in page and "Force" in page
    assert login(operator).post(f"/clusters/-/handoffs/{held.pk}/force/").status_code == 302
    assert not Handoff.objects.exists()
