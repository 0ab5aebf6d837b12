"""The release pages per role: the list (tenant-scoped, filters), the live detail page (snapshot,
buttons per permission and state), the events JSON (gap fill), the action forms (same services
as the API: refused → 403 and audited, wrong state → message), the new-release form (preview,
create, field errors) and the pod logs endpoint (only this release's pods; a real simulator
answers through clusters/kube.py)."""
import json
import re

import pytest
from django.urls import reverse

from paas.audit.models import AuditEvent
from releases.models import PodProgress, Release

from .pages_world import set_state, world

pytestmark = pytest.mark.django_db

MEMBERS = ["owner", "admin", "developer", "approver", "viewer", "auditor"]


@pytest.fixture
def w(tenant, personas):
    return world(tenant)


def _state(response) -> dict:
    match = re.search(r'<script id="release-state" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)
    return json.loads(match.group(1))


def _visible_actions(response) -> set[str]:
    forms = re.findall(r'<form method="post" action="[^"]+" class="release-action"\s+data-action="(\w+)"'
                       r'\s+data-states="[^"]*"\s+(hidden)?', response.content.decode())
    return {action for action, hidden in forms if not hidden}


# --- list -----------------------------------------------------------------------------

@pytest.mark.parametrize("persona", MEMBERS + ["operator"])
def test_members_list_the_tenants_releases(persona, personas, w, login):
    response = login(personas[persona]).get("/releases/?tenant=acme")
    assert response.status_code == 200
    assert response.content.decode().count('data-testid="release-link"') == 2


def test_list_filters_by_environment_state_and_application(personas, w, login):
    client = login(personas["viewer"])
    body = client.get("/releases/?tenant=acme&environment=prod").content.decode()
    assert body.count('data-testid="release-link"') == 1 and "Production" in body
    set_state(w["release"], Release.State.RUNNING)
    assert client.get("/releases/?state=running").content.decode().count('data-testid="release-link"') == 1
    assert client.get("/releases/?state=failed").content.decode().count('data-testid="release-link"') == 0
    assert client.get(f"/releases/?application={w['app'].pk}").content.decode().count('data-testid="release-link"') == 2
    # Junk filters are ignored, never a 500.
    assert client.get("/releases/?state=nope&application=x1&environment=" + "e" * 500).status_code == 200


def test_outsider_lists_nothing_of_acme_and_anonymous_is_sent_to_login(personas, w, login, client):
    body = login(personas["outsider"]).get("/releases/").content.decode()
    assert "payments-api" not in body and "acme" not in body.lower()
    response = client.get("/releases/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- detail ---------------------------------------------------------------------------

@pytest.mark.parametrize("persona", MEMBERS)
def test_detail_renders_the_snapshot_for_every_member(persona, personas, w, login):
    response = login(personas[persona]).get(reverse("releases:detail", args=[w["release"].pk]))
    assert response.status_code == 200
    state = _state(response)
    release = w["release"]
    release.refresh_from_db()
    assert state["last_seq"] == release.last_seq == 4  # created + pod.state + gate.result + traffic.sample
    assert [s["name"] for s in state["steps"]] == list(release.steps.order_by("index").values_list("name", flat=True))
    assert {c["slug"] for c in state["clusters"]} == {"k1", "k2"}
    assert len(state["pods"]) == 4 and state["stream"] == f"release.{release.pk}"
    assert state["gates"]["error rate"]["points"][0]["value"] == 0.01
    assert state["traffic"][0]["success_ratio"] == 1.0
    assert [e["seq"] for e in state["events"]] == [1, 2, 3]  # the traffic sample is charted, not logged
    assert state["urls"]["events"] == f"/releases/{release.pk}/events.json"


@pytest.mark.parametrize("persona", ["outsider"])
def test_other_tenant_gets_404_everywhere(persona, personas, w, login):
    client = login(personas[persona])
    pk = w["release"].pk
    for url in (f"/releases/{pk}/", f"/releases/{pk}/events.json", f"/releases/{pk}/logs.json"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/releases/{pk}/pause/").status_code == 404
    assert client.get("/releases/999999/").status_code == 404
    query = f"?application={w['app'].pk}&environment=test"
    assert client.get("/releases/new/" + query).status_code == 404


@pytest.mark.parametrize("persona, release_key, expected", [
    ("owner", "release", {"start", "abort"}),
    ("developer", "release", {"start", "abort"}),
    ("viewer", "release", set()),
    ("approver", "release", set()),
    ("auditor", "release", set()),
    ("owner", "prod_release", {"start", "abort"}),
    ("admin", "prod_release", {"start", "abort"}),
    ("developer", "prod_release", set()),  # pre and prod need release_protected
])
def test_buttons_follow_permission(persona, release_key, expected, personas, w, login):
    response = login(personas[persona]).get(reverse("releases:detail", args=[w[release_key].pk]))
    assert _visible_actions(response) == expected
    if not expected:
        assert 'id="release-actions"' not in response.content.decode()


@pytest.mark.parametrize("state, expected", [
    ("waiting", {"confirm", "pause", "abort", "rollback"}),
    ("running", {"pause", "abort", "rollback"}),
    ("paused", {"resume", "abort", "rollback"}),
    ("failed", {"rollback"}),
    ("rolled_back", set()),
])
def test_buttons_follow_state(state, expected, personas, w, login):
    set_state(w["release"], state)
    response = login(personas["developer"]).get(reverse("releases:detail", args=[w["release"].pk]))
    assert _visible_actions(response) == expected
    # Every form carries the CSRF token and the states in which the live page may show it.
    body = response.content.decode()
    assert body.count('name="csrfmiddlewaretoken"') >= 6 and 'data-states="planned"' in body


# --- events JSON ----------------------------------------------------------------------

def test_events_after_a_number_in_order(personas, w, login):
    client = login(personas["viewer"])
    url = reverse("releases:events", args=[w["release"].pk])
    data = client.get(url + "?after=2").json()
    assert [e["seq"] for e in data["events"]] == [3, 4] and data["last_seq"] == data["head"] == 4
    assert data["events"][0]["kind"] == "gate.result"
    assert [e["seq"] for e in client.get(url + "?after=0&limit=2").json()["events"]] == [1, 2]
    assert client.get(url + "?after=4").json()["events"] == []


@pytest.mark.parametrize("query", ["?after=-1", "?after=abc", "?after=1e9", "?limit=x", "?after=" + "9" * 40,
                                   "?after=%C2%B2", "?limit=%C2%B3"])  # superscript digits: isdigit() but not int()
def test_events_refuse_hostile_numbers_with_400_json(query, personas, w, login):
    response = login(personas["viewer"]).get(reverse("releases:events", args=[w["release"].pk]) + query)
    assert response.status_code == 400 and "error" in response.json()


# --- actions --------------------------------------------------------------------------

def test_viewer_cannot_act_and_the_refusal_is_audited(personas, w, login):
    response = login(personas["viewer"]).post(reverse("releases:action", args=[w["release"].pk, "start"]))
    assert response.status_code == 403
    w["release"].refresh_from_db()
    assert w["release"].state == Release.State.PLANNED
    assert AuditEvent.objects.filter(action="release.start", outcome="denied", user_id=personas["viewer"].pk).exists()


def test_developer_starts_and_the_page_says_so(personas, w, login):
    client = login(personas["developer"])
    response = client.post(reverse("releases:action", args=[w["release"].pk, "start"]), follow=True)
    assert response.status_code == 200
    w["release"].refresh_from_db()
    assert w["release"].state == Release.State.RUNNING
    assert "started" in response.content.decode()
    assert _state(response)["state"] == "running"


def test_wrong_state_is_a_message_not_an_error(personas, w, login):
    client = login(personas["developer"])
    response = client.post(reverse("releases:action", args=[w["release"].pk, "resume"]), follow=True)
    assert response.status_code == 200
    assert "cannot resume" in response.content.decode()
    assert client.post(reverse("releases:action", args=[w["release"].pk, "explode"])).status_code == 404
    assert client.get(reverse("releases:action", args=[w["release"].pk, "start"])).status_code == 405


def test_developer_may_not_act_on_prod(personas, w, login):
    response = login(personas["developer"]).post(reverse("releases:action", args=[w["prod_release"].pk, "abort"]))
    assert response.status_code == 403


# --- new release ----------------------------------------------------------------------

def _new_url(w, env="test"):
    return f"/releases/new/?application={w['app'].pk}&environment={env}"


def _form(w, env="test", **extra):
    revision = w["r2"] if env == "test" else w["prod_instance"].application.revisions.get(environment=w["prod"], number=2)
    data = {"application": w["app"].pk, "environment": env, "target": revision.pk, "beta_pods": "1", "beta_cell": "",
            "grouping": "cell", "batches": "50%, 100%", "confirm": "manual", "wait_seconds": "0", "lossless": "on",
            "drain_seconds": "2", "warmup_seconds": "1", "min_ready_ratio": "1", "no_restarts": "on",
            "prometheus_url": "", "timeout_seconds": "300", "on_gate_failure": "pause"}
    data.update(extra)
    return data


@pytest.mark.parametrize("persona, env, status", [
    ("owner", "test", 200), ("developer", "test", 200), ("viewer", "test", 403), ("approver", "test", 403),
    ("developer", "prod", 403), ("owner", "prod", 200),
])
def test_new_release_form_per_role(persona, env, status, personas, w, login):
    response = login(personas[persona]).get(_new_url(w, env))
    assert response.status_code == status
    if status == 200:
        body = response.content.decode()
        assert 'data-testid="release-form"' in body and "r2 · " in body
        assert 'data-testid="active-release"' in body  # the planned release of the world is still active


def test_preview_shows_every_step_then_create_plans_the_release(personas, w, login):
    from releases import services

    services.release_abort(actor=services.releases.Actor.for_system("tests"), release=w["release"])
    client = login(personas["developer"])
    response = client.post("/releases/new/", _form(w, action="preview", metric_name_0="errors",
                                                    metric_query_0='max(sim_http_error_ratio{pod=~"{pods}"})',
                                                    metric_op_0="<", metric_threshold_0="0.05"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="release-preview"' in body
    steps = response.context["preview"]["steps"]
    assert steps[0]["kind"] == "beta" and steps[-1]["group"] == "cell cell-2"
    assert body.count("<tr data-step=") == len(steps)
    for step in steps:
        assert step["name"] in body
    assert "k1 · api: 2/2" in body and "k2 · api: 2/2" in body  # clusters, pods on target out of all
    assert Release.objects.filter(instance=w["instance"]).count() == 1  # a preview writes nothing
    response = client.post("/releases/new/", _form(w, action="create", description="ship it",
                                                    metric_query_0='max(sim_http_error_ratio{pod=~"{pods}"})',
                                                    metric_threshold_0="0.05"))
    release = Release.objects.filter(instance=w["instance"]).order_by("-number").first()
    assert response.status_code == 302 and response["Location"] == f"/releases/{release.pk}/"
    assert release.state == Release.State.PLANNED and release.description == "ship it"
    assert release.options["gates"]["metrics"][0]["threshold"] == 0.05
    assert release.options["confirm"] == "manual" and release.options["batches"] == ["50%", "100%"]


@pytest.mark.parametrize("field, value, message", [
    ("batches", "abc", "neither a pod count nor a percentage"),
    ("batches", "100%, 50%", ""),         # the services' rule (rising): on the field all the same
    ("beta_pods", "-1", ""),
    ("metric_query_0", "", None),        # a name without a query
    ("target", "999999", ""),
])
def test_form_errors_land_on_their_fields(field, value, message, personas, w, login):
    from releases import services

    services.release_abort(actor=services.releases.Actor.for_system("tests"), release=w["release"])
    extra = {field: value}
    if field == "metric_query_0":
        extra["metric_name_0"] = "orphan"
    response = login(personas["developer"]).post("/releases/new/", _form(w, action="preview", **extra))
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors, form.errors
    if message:
        assert message in str(form.errors[field])
    assert Release.objects.filter(instance=w["instance"]).count() == 1


def test_create_while_a_release_is_active_is_refused_on_the_form(personas, w, login):
    response = login(personas["developer"]).post("/releases/new/", _form(w, action="create"))
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() or response.context["form"].errors
    assert Release.objects.filter(instance=w["instance"]).count() == 1


def test_viewer_post_to_new_release_is_refused_and_audited(personas, w, login):
    response = login(personas["viewer"]).post("/releases/new/", _form(w, action="create"))
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="release.create", outcome="denied").exists()


# --- instance page --------------------------------------------------------------------

@pytest.mark.parametrize("persona, sees_button", [("developer", False), ("viewer", False)])
def test_instance_page_links_the_active_release(persona, sees_button, personas, w, login):
    body = login(personas[persona]).get(f"/applications/{w['app'].pk}/instances/test/").content.decode()
    assert 'data-testid="release-card"' in body and f"/releases/{w['release'].pk}/" in body
    assert ('data-testid="release-revision"' in body) is sees_button  # an active release: no new one


@pytest.mark.parametrize("persona, sees_button", [("developer", True), ("viewer", False), ("auditor", False)])
def test_instance_page_offers_release_revision_n_when_allowed(persona, sees_button, personas, w, login):
    set_state(w["release"], Release.State.ABORTED)
    body = login(personas[persona]).get(f"/applications/{w['app'].pk}/instances/test/").content.decode()
    assert ('data-testid="release-revision"' in body) is sees_button
    if sees_button:
        assert "Release revision 2" in body and f"target={w['r2'].pk}" in body


# --- pod logs -------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["?cluster=abc", "?since=nan", "?since=x", "?pod=" + "p" * 300, "?cluster=1;2",
                                   "?cluster=%C2%B2"])
def test_logs_refuse_hostile_input(query, personas, w, login):
    response = login(personas["viewer"]).get(reverse("releases:logs", args=[w["release"].pk]) + query)
    assert response.status_code == 400 and "error" in response.json()


def test_logs_only_for_pods_of_the_release(personas, w, login):
    client = login(personas["viewer"])
    url = reverse("releases:logs", args=[w["release"].pk])
    assert client.get(url + "?pod=kube-apiserver-0").status_code == 404
    # An unreachable cluster is an error entry for that pod, never a 500.
    PodProgress.objects.filter(release=w["release"]).exclude(name="payments-api-api-k1-0").delete()
    data = client.get(url + "?pod=payments-api-api-k1-0").json()
    assert data["lines"] == [] and data["errors"][0]["pod"] == "payments-api-api-k1-0"
    assert "token" not in json.dumps(data)
