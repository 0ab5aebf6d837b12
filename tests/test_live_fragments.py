"""Live page fragments (static/js/live.js): each live region is served by its page's own
view, so a refresh has exactly the page's permission checks; a refresh does not use up
flash messages; live events name who did what to which object."""
import pytest

from clusters.federation import services
from paas.actors import Actor
from paas.realtime import emit
from tests.federation.conftest import deployment, fedsim, ftypes, topology  # noqa: F401  (fixtures)

LIVE = {"HTTP_HX_REQUEST": "true", "HTTP_X_LIVE_REFRESH": "1"}


@pytest.fixture
def resource(topology, ftypes):  # noqa: F811
    return services.federated_resource_create(actor=Actor.for_system("tests"), environment=topology["prod"],
                                              ftype=ftypes["Deployment"], name="web", template=deployment("web"))


def fragments(resource):
    base = f"/federation/acme/prod/{resource.pk}/"
    return {
        "/federation/acme/": "live-federation-tenant",
        "/federation/acme/prod/": "live-federation-list",
        base: "live-resource-badge",
        base + "status/": "federation-status",
        "/tenants/acme/quotas/": "live-quotas",
    }


def test_live_refresh_of_another_tenants_fragments_is_a_404(personas, login, resource):
    client = login(personas["outsider"])
    for url in fragments(resource):
        assert client.get(url, **LIVE).status_code == 404, url


def test_viewer_gets_each_fragment_with_its_live_attributes(personas, login, resource):
    client = login(personas["viewer"])
    for url, region in fragments(resource).items():
        response = client.get(url, **LIVE)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert f'id="{region}"' in html, url
        assert 'hx-trigger="live-refresh"' in html and "data-live-types=" in html, url
    status = client.get(f"/federation/acme/prod/{resource.pk}/status/").content.decode()
    assert f'data-live-ids="{resource.pk}"' in status and "every 3s" not in status  # no more polling


def test_platform_and_dashboard_pages_are_live(personas, login, resource):
    client = login(personas["operator"])
    for url, region in [("/", "live-dashboard"), ("/clusters/", "live-clusters"),
                        ("/clusters/fed-a1/", "live-cluster"), ("/clusters/-/cells/cell-a/", "live-cell"),
                        ("/clusters/-/zones/z-east/", "live-zone")]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert f'id="{region}"' in response.content.decode(), url


def test_audit_list_refreshes_on_page_one_and_counts_elsewhere(personas, login, resource):
    client = login(personas["auditor"])
    first = client.get("/audit/").content.decode()
    assert 'id="live-audit"' in first and "live-audit-new" not in first
    filtered = client.get("/audit/?action=federation").content.decode()
    assert 'id="live-audit-new"' in filtered and 'id="live-audit"' not in filtered
    assert "data-live-count" in filtered


def test_a_live_refresh_leaves_flash_messages_for_the_next_page(personas, login, resource):
    client = login(personas["developer"])
    response = client.post(f"/federation/acme/prod/{resource.pk}/delete/")
    assert response.status_code == 302
    # A live region refreshes (another event) before the redirect is followed.
    refresh = client.get("/federation/acme/prod/", **LIVE)
    assert "is being removed" not in refresh.content.decode()
    page = client.get(response["Location"])
    assert "is being removed from every member cluster" in page.content.decode()
    assert "is being removed" not in client.get(response["Location"]).content.decode()  # shown once


def test_resource_events_name_actor_object_and_link(personas, resource, monkeypatch):
    sent = []
    monkeypatch.setattr(emit, "to_group", lambda stream, payload, **kw: sent.append(payload))
    developer = personas["developer"]
    developer.first_name, developer.last_name = "Dana", "Dev"
    developer.save()
    template = deployment("web", replicas=4)
    services.federated_resource_update(actor=Actor.for_user(developer), resource=resource, template=template,
                                       placement=resource.placement, overrides=resource.overrides)
    event = next(p for p in sent if p["type"] == "federation.resource.updated")
    assert event["actor"] == "Dana Dev"
    assert event["name"] == "web" and event["environment"] == "prod" and event["tenant"] == "acme"
    assert event["url"] == f"/federation/acme/prod/{resource.pk}/"


def test_actor_name_of_token_and_system():
    assert emit.actor_name(Actor.for_system("beat")) == "beat"
