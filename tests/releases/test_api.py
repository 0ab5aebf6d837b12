"""Releases API: create/preview/detail/list filters, actions with their 403/404/409, numbered events
paged by seq, pods, traffic providers (write-only secret), and hostile input answered with 4xx JSON."""
import pytest
from django.core.cache import cache

from paas.audit.models import AuditEvent
from releases.models import PodProgress, Release, TrafficProvider

from .conftest import revisions

pytestmark = pytest.mark.django_db
API = "/api/v1/releases/"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(app, personas):
    instance, first, second = revisions(app, "test")
    prod = revisions(app, "prod")
    return {"app": app, "instance": instance, "first": first, "second": second, "prod": prod}


def body(world, env="test", target=None, **extra):
    return {"application": world["app"].pk, "environment": env,
            "target": target or (world["second"].number if env == "test" else world["prod"][2].number), **extra}


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


def test_create_preview_detail_and_list(world, personas, login):
    developer = login(personas["developer"])
    preview = post(developer, API + "preview/", body(world, options={"batches": [1, "100%"]}))
    assert preview.status_code == 200, preview.content
    assert preview.json()["in_place"] is True and preview.json()["steps"][1]["targets"][0]["desired"] == 1
    assert not Release.objects.exists()
    created = post(developer, API, body(world, options={"batches": [1, "100%"]}, description="image 1.1"))
    assert created.status_code == 201, created.content
    detail = created.json()
    assert detail["state"] == "planned" and detail["number"] == 1 and detail["baseline"] == 1
    assert detail["steps"][0]["targets"][0]["cluster"] == "k1" and detail["plan"]["version"] == 1
    assert detail["actions"] == {"start": True, "confirm": False, "pause": False, "resume": False, "abort": True,
                                 "rollback": False}
    assert login(personas["viewer"]).get(f"{API}{detail['id']}/").json()["actions"]["start"] is False
    again = post(developer, API, body(world))
    assert again.status_code == 409 and again.json()["error"]["code"] == "release_active"
    listed = developer.get(API + "?environment=test&state=planned&application=payments-api").json()
    assert [r["id"] for r in listed["results"]] == [detail["id"]]
    assert developer.get(API + "?state=running").json()["results"] == []
    # Developers do not release into prod; owners do.
    assert post(developer, API, body(world, env="prod")).status_code == 403
    assert post(login(personas["owner"]), API, body(world, env="prod")).status_code == 201
    # Another tenant's release does not exist for them.
    outsider = login(personas["outsider"])
    assert outsider.get(f"{API}{detail['id']}/").status_code == 404
    assert outsider.get(API).json()["results"] == []
    assert post(outsider, API, body(world)).status_code == 404


def test_actions_permissions_and_states(world, personas, login):
    release = post(login(personas["developer"]), API, body(world)).json()
    url = f"{API}{release['id']}/"
    assert post(login(personas["viewer"]), url + "start/").status_code == 403
    assert post(login(personas["outsider"]), url + "start/").status_code == 404
    developer = login(personas["developer"])
    wrong = post(developer, url + "confirm/")
    assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "wrong_state"
    assert "planned" in wrong.json()["error"]["message"]
    started = post(developer, url + "start/")
    assert started.status_code == 200 and started.json()["state"] == "running"
    paused = post(developer, url + "pause/", {"reason": "look at metrics"})
    assert paused.json()["pause_requested"] is True and paused.json()["reason"] == "look at metrics"
    assert post(developer, url + "resume/").json()["pause_requested"] is False
    assert post(developer, url + "rollback/", {"reason": "bad"}).json()["rollback_requested"] is True
    assert post(developer, url + "abort/").json()["abort_requested"] is True
    actions = list(AuditEvent.objects.filter(action__startswith="release.").order_by("id")
                   .values_list("action", "outcome"))
    assert actions == [("release.create", "success"), ("release.start", "denied"), ("release.start", "success"),
                       ("release.pause", "success"), ("release.resume", "success"), ("release.rollback", "success"),
                       ("release.abort", "success")]


def test_events_are_paged_by_seq_without_gaps(world, personas, login):
    developer = login(personas["developer"])
    release = post(developer, API, body(world)).json()
    url = f"{API}{release['id']}/"
    post(developer, url + "start/")
    for _ in range(3):
        post(developer, url + "pause/")
        post(developer, url + "resume/")
    page = developer.get(url + "events/?after=0&limit=3").json()
    assert [e["seq"] for e in page["events"]] == [1, 2, 3] and page["last_seq"] == 8
    assert page["next"].endswith(f"{url}events/?after=3&limit=3")
    seen = [e["seq"] for e in page["events"]]
    while page["next"]:
        page = developer.get(page["next"]).json()
        seen += [e["seq"] for e in page["events"]]
    assert seen == list(range(1, 9))
    assert developer.get(url + "events/?after=8").json() == {"events": [], "after": 8, "last_seq": 8, "next": None}
    assert page["events"][-1]["kind"] == "release.resumed" and page["events"][-1]["data"]["state"] == "running"
    for bad in ("-1", "x", "99999999999", "1e3"):
        response = developer.get(url + f"events/?after={bad}")
        assert response.status_code == 400 and response.json()["error"]["fields"] == {"after": [
            "after: a whole number from 0 to 2147483647"]}
    assert login(personas["viewer"]).get(url + "events/").status_code == 200
    assert login(personas["outsider"]).get(url + "events/").status_code == 404


def test_pods(world, personas, login, topology):
    developer = login(personas["developer"])
    release = post(developer, API, body(world)).json()
    PodProgress.objects.create(release_id=release["id"], cluster=topology["k1"], component="api",
                               name="payments-api-api-x1", state=PodProgress.State.NEW, revision=2)
    rows = developer.get(f"{API}{release['id']}/pods/").json()["results"]
    assert rows == [{"cluster": "k1", "cell": "c1", "component": "api", "name": "payments-api-api-x1",
                     "state": "new", "revision": 2, "restarts": 0, "reason": "", "updated_at": rows[0]["updated_at"]}]


def test_traffic_providers_keep_their_secret(world, personas, login):
    url = f"/api/v1/applications/{world['app'].pk}/instances/test/traffic-providers/"
    developer = login(personas["developer"])
    hook = {"kind": "webhook", "name": "gateway", "url": "https://gw.acme.example/hook",
            "secret": "correct-horse-battery-staple", "config": {"timeout": 5}}
    created = post(developer, url, hook)
    assert created.status_code == 201, created.content
    assert created.json()["has_secret"] is True and "secret" not in created.json()
    provider = TrafficProvider.objects.get()
    assert b"correct-horse" not in bytes(provider.secret)
    from releases.services import provider_secret
    assert provider_secret(provider) == "correct-horse-battery-staple"
    assert "correct-horse" not in str(list(AuditEvent.objects.values_list("changes", flat=True)))
    assert post(developer, url, hook).status_code == 409
    patched = developer.patch(f"{url}{provider.pk}/", {"enabled": False}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert [p["name"] for p in login(personas["viewer"]).get(url).json()["results"]] == ["gateway"]
    assert post(login(personas["viewer"]), url, {**hook, "name": "other"}).status_code == 403
    assert login(personas["outsider"]).get(url).status_code == 404
    bad = post(developer, url, {**hook, "name": "x2", "url": "ftp://x"})
    assert bad.status_code == 400 and "url" in bad.json()["error"]["fields"]
    bad = post(developer, url, {**hook, "name": "x3", "secret": None})
    assert bad.status_code == 400
    assert post(developer, url, {"kind": "registry", "name": "rpc", "url": "http://127.0.0.1:1/",
                                 "config": {"service": {"nested": 1}}}).status_code == 400
    for bad in ("http://[::1", "http://user:pw@127.0.0.1:1/", "ftp://127.0.0.1/"):  # unparsable, credentials
        assert post(developer, url, {"kind": "registry", "name": "rpc", "url": bad}).status_code == 400, bad
    # prod's providers are changed by those who may release into prod.
    prod_url = f"/api/v1/applications/{world['app'].pk}/instances/prod/traffic-providers/"
    assert post(developer, prod_url, {**hook, "name": "gw"}).status_code == 403
    assert developer.delete(f"{url}{provider.pk}/").status_code == 204


@pytest.mark.parametrize("data, field", [
    ({"options": {"batches": ["50%", "40%"]}}, "options.batches[1]"),
    ({"options": {"beta": {"pods": "1"}}}, "options.beta.pods"),
    ({"options": {"gates": {"metrics": [{"name": "x"}]}}}, "options.gates.metrics[0].query"),
    ({"options": "all at once"}, "options"),
    ({"target": "2"}, "target"),
    ({"target": 999}, "target"),
    ({"target": 10**30}, "target"),
    ({"environment": "nowhere"}, "environment"),
    ({"environment": ["test"]}, "environment"),
    ({"description": "x" * 5000}, "description"),
])
def test_hostile_input_is_a_4xx_naming_the_field(world, personas, login, data, field):
    developer = login(personas["developer"])
    for url in (API,) if field == "description" else (API, API + "preview/"):
        payload = {**body(world), **data}
        if url.endswith("preview/"):
            payload.pop("description", None)
        response = post(developer, url, payload)
        assert response.status_code == 400, (url, response.content)
        assert field in response.json()["error"].get("fields", {}), response.json()
    assert not Release.objects.exists()


def test_unknown_ids_are_404(world, personas, login):
    developer = login(personas["developer"])
    for path in ("abc/", "99999999999999999999999/", "1.5/", "0/events/"):
        response = developer.get(API + path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert post(developer, API + "x/start/").status_code == 404
    assert post(developer, API, {**body(world), "application": 123456}).status_code == 404
