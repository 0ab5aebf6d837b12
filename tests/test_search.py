"""Global search: only what the actor may see (names of other tenants' objects never
leak), grouped by kind, on the page and in the API, which refuses hostile input with 4xx JSON."""
import json

import pytest

from clusters.federation.models import FederatedResource, FederatedType
from clusters.models import Cell, Cluster, EnvironmentBinding, Region, Zone
from paas.web.search import SearchHit, SearchProvider, providers, register
from tests.factories import make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(personas, tenant, other_tenant):
    """acme: resource "orion-web" in prod, bound to cell orion-a (cluster orion-1);
    globex: resource "orion-secret" in dev, bound to cell orion-b (cluster orion-2)."""
    region = Region.objects.create(name="Orion region", slug="orion")
    zone = Zone.objects.create(region=region, name="Orion zone", slug="orion-z")
    cells = [Cell.objects.create(zone=zone, name=f"Orion cell {x}", slug=f"orion-{x}") for x in "ab"]
    clusters = [Cluster.objects.create(cell=cell, name=f"Orion {i}", slug=f"orion-{i}", server="https://sim",
                                       credentials=b"") for i, cell in enumerate(cells, 1)]
    deployment = FederatedType.objects.get(group="apps", kind="Deployment")
    for t, env, cell, name in ((tenant, "prod", cells[0], "orion-web"), (other_tenant, "dev", cells[1], "orion-secret")):
        environment = t.environments.get(slug=env)
        EnvironmentBinding.objects.create(environment=environment, cell=cell)
        FederatedResource.objects.create(tenant=t, environment=environment, ftype=deployment, name=name,
                                         template={"metadata": {"name": name}})
    return {"clusters": clusters}


def titles(payload) -> dict[str, list[str]]:
    return {g["kind"]: [h["title"] for h in g["hits"]] for g in payload["groups"]}


def api(client, **params):
    return client.get("/api/v1/search/", params)


@pytest.mark.parametrize("persona", ["owner", "developer", "viewer", "auditor", "approver"])
def test_members_find_their_tenants_objects_and_nothing_of_others(world, personas, login, persona):
    found = titles(api(login(personas[persona]), q="orion").json())
    assert found["federated_resource"] == ["orion-web"]
    assert found["cluster"] == ["Orion 1"]  # the cluster bound to acme, not globex's
    found = titles(api(login(personas[persona]), q="a").json())
    assert "Acme Payments" in found["tenant"] and "Globex Bank" not in found["tenant"]
    assert all(sub for sub in found["environment"])


def test_the_outsider_never_sees_acme_names(world, personas, login):
    client = login(personas["outsider"])
    for q in ("acme", "Acme Payments", "orion-web", "Orion 1", "prod"):
        response = api(client, q=q)
        assert response.status_code == 200
        text = json.dumps(response.json()["groups"])  # the query itself is echoed back
        assert "Acme" not in text and "orion-web" not in text and "Orion 1" not in text, q
    assert titles(api(client, q="orion").json()) == {"federated_resource": ["orion-secret"], "cluster": ["Orion 2"]}


def test_operators_see_every_cluster(world, personas, login):
    found = titles(api(login(personas["superuser"]), q="orion").json())
    assert found["cluster"] == ["Orion 1", "Orion 2"]
    assert sorted(found["federated_resource"]) == ["orion-secret", "orion-web"]


def test_an_api_token_searches_only_its_tenant(world, personas, client, tenant, other_tenant):
    from tenants.roles import Role
    from tests.factories import add_member

    add_member(other_tenant, personas["owner"], Role.VIEWER)  # the user sees both tenants, the token one
    _token, secret = make_token(personas["owner"], tenant)
    response = client.get("/api/v1/search/", {"q": "orion"}, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert titles(response.json())["federated_resource"] == ["orion-web"]


def test_results_link_to_pages_the_persona_can_open(world, personas, login):
    client = login(personas["viewer"])
    for group in api(client, q="o").json()["groups"]:
        for hit in group["hits"]:
            assert client.get(hit["url"]).status_code == 200, hit


@pytest.mark.parametrize("params", [
    {}, {"q": ""}, {"q": "   "}, {"q": "x" * 101}, {"q": "a", "limit": "0"}, {"q": "a", "limit": "999"},
    {"q": "a", "limit": "many"},
])
def test_hostile_input_is_a_json_400(personas, login, params):
    response = api(login(personas["viewer"]), **params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize("q", ["%", "_", "' OR 1=1 --", "<script>", "\\", "名字", "a\tb"])
def test_odd_text_is_searched_literally(world, personas, login, q):
    response = api(login(personas["viewer"]), q=q)
    assert response.status_code == 200 and response.json()["groups"] == []


def test_anonymous_callers_are_refused(client):
    assert api(client, q="acme").status_code in (401, 403)
    assert client.get("/search/", {"q": "acme"}).status_code == 302


def test_the_page_groups_hits_and_says_when_nothing_matches(world, personas, login):
    client = login(personas["viewer"])
    html = client.get("/search/", {"q": "orion"}).content.decode()
    assert "Federated resources" in html and "orion-web" in html and "orion-secret" not in html
    assert "Nothing matches" in client.get("/search/", {"q": "zzz-none"}).content.decode()
    assert client.get("/search/", {"q": "x" * 101}).status_code == 400


def test_a_later_kind_registers_a_provider(personas, login, monkeypatch):
    from paas.web import search

    monkeypatch.setattr(search, "_PROVIDERS", dict(search._PROVIDERS))
    register(SearchProvider("release", "Releases", "rocket-takeoff",
                            lambda actor, q, limit: [SearchHit("Release 42", "/releases/42/", q)]))
    assert providers()[-1].kind == "release"
    assert "release" in titles(api(login(personas["viewer"]), q="42").json())
