"""Cluster pages against every persona, and registration through the page.

acme's prod environment is bound to cell east-1a (cluster reg-a); globex's dev to
east-1b. Operators see and change everything; tenant members see only the cells and
clusters their environments are bound to, read-only (403 on every operator action);
what they cannot see answers 404.
"""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from clusters.models import Cluster, EnvironmentBinding, PlatformSwitch

from .conftest import kubeconfig_text, sim_token

pytestmark = pytest.mark.django_db

PERSONAS = ["owner", "admin", "developer", "viewer", "auditor", "outsider", "operator", "anonymous"]
LOGIN = 302


def table(default, **overrides):
    return {**{p: default for p in PERSONAS}, **overrides}


ACME_ONLY = table(200, outsider=404, anonymous=LOGIN)
GLOBEX_ONLY = table(404, outsider=200, operator=200, anonymous=LOGIN)
EVERYONE = table(200, anonymous=LOGIN)
OPERATOR_FORM = table(403, operator=200, anonymous=LOGIN)
OPERATOR_POST = table(403, operator=302, anonymous=LOGIN)

PAGES = {
    "list": ("get", "/clusters/", None, EVERYONE),
    "bindings": ("get", "/clusters/-/bindings/", None, EVERYONE),
    "detail": ("get", "/clusters/reg-a/", None, ACME_ONLY),
    "cell": ("get", "/clusters/-/cells/east-1a/", None, ACME_ONLY),
    "other-cell": ("get", "/clusters/-/cells/east-1b/", None, GLOBEX_ONLY),
    "zone": ("get", "/clusters/-/zones/east-1/", None, EVERYONE),
    "register-form": ("get", "/clusters/-/register/", None, OPERATOR_FORM),
    "edit-form": ("get", "/clusters/reg-a/edit/", None, OPERATOR_FORM),
    "credentials-form": ("get", "/clusters/reg-a/credentials/", None, OPERATOR_FORM),
    "switch-form": ("get", "/clusters/-/switch/", None, OPERATOR_FORM),
    "region-create-form": ("get", "/clusters/-/new/region/", None, OPERATOR_FORM),
    "zone-create-form": ("get", "/clusters/-/new/zone/", None, OPERATOR_FORM),
    "cell-create-form": ("get", "/clusters/-/new/cell/", None, OPERATOR_FORM),
    "region-edit-form": ("get", "/clusters/-/regions/east/edit/", None, OPERATOR_FORM),
    "zone-edit-form": ("get", "/clusters/-/zones/east-1/edit/", None, OPERATOR_FORM),
    "cell-edit-form": ("get", "/clusters/-/cells/east-1a/edit/", None, OPERATOR_FORM),
    "edit": ("post", "/clusters/reg-a/edit/", {"name": "Reg A2", "cell": "east-1a", "labels": "a=b", "weight": "2"},
             OPERATOR_POST),
    "cordon": ("post", "/clusters/reg-a/cordon/", {"reason": "drill"}, OPERATOR_POST),
    "uncordon": ("post", "/clusters/reg-a/uncordon/", {}, OPERATOR_POST),
    "pause": ("post", "/clusters/reg-a/pause/", {}, OPERATOR_POST),
    "resume": ("post", "/clusters/reg-a/resume/", {}, OPERATOR_POST),
    "check": ("post", "/clusters/reg-a/check/", {}, OPERATOR_POST),
    "remove": ("post", "/clusters/reg-a/remove/", {}, OPERATOR_POST),
    "cell-fail": ("post", "/clusters/-/cells/east-1a/fail/", {}, OPERATOR_POST),
    "cell-recover": ("post", "/clusters/-/cells/east-1a/recover/", {}, OPERATOR_POST),
    "zone-fail": ("post", "/clusters/-/zones/east-1/fail/", {}, OPERATOR_POST),
    "zone-recover": ("post", "/clusters/-/zones/east-1/recover/", {}, OPERATOR_POST),
    "switch": ("post", "/clusters/-/switch/", {"action": "stop", "reason": "incident"}, OPERATOR_POST),
    "region-create": ("post", "/clusters/-/new/region/", {"name": "West", "slug": "west"}, OPERATOR_POST),
    "zone-create": ("post", "/clusters/-/new/zone/", {"name": "E2", "slug": "east-2", "region": "east"},
                    OPERATOR_POST),
    "cell-create": ("post", "/clusters/-/new/cell/", {"name": "C", "slug": "east-1c", "zone": "east-1"},
                    OPERATOR_POST),
    "cell-edit": ("post", "/clusters/-/cells/east-1a/edit/", {"name": "Renamed"}, OPERATOR_POST),
    "zone-edit": ("post", "/clusters/-/zones/east-1/edit/", {"name": "Renamed", "labels": "idc=1"}, OPERATOR_POST),
    "region-edit": ("post", "/clusters/-/regions/east/edit/", {"name": "Renamed"}, OPERATOR_POST),
    "region-delete": ("post", "/clusters/-/regions/east/delete/", {}, OPERATOR_POST),  # refused: has zones
    "zone-delete": ("post", "/clusters/-/zones/east-1/delete/", {}, OPERATOR_POST),  # refused: has cells
    "credentials": ("post", "/clusters/reg-a/credentials/", {"kubeconfig": "{reg_a}", "probe": "on"},
                    OPERATOR_POST),
    "cell-delete": ("post", "/clusters/-/cells/east-1b/delete/", {}, OPERATOR_POST),
    "binding-add": ("post", "/clusters/-/bindings/add/", {"environment": "{acme_dev}", "target": "cell:east-1a"},
                    OPERATOR_POST),
    "binding-remove": ("post", "/clusters/-/bindings/{acme_prod_binding}/remove/", {}, OPERATOR_POST),
}


@pytest.fixture
def world(personas, bound, tenant, kubesim):
    return {"acme_dev": str(tenant.environments.get(slug="dev").pk), "reg_a": kubeconfig_text(kubesim, "reg-a"),
            "acme_prod_binding": str(EnvironmentBinding.objects.get(environment__tenant=tenant).pk)}


def client_for(persona, personas, login):
    return Client() if persona == "anonymous" else login(personas[persona])


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("page", list(PAGES))
def test_page_matrix(page, persona, world, personas, login, kubesim):
    method, url, data, expected = PAGES[page]
    url = url.format(**world)
    if data:
        data = {k: world[v[1:-1]] if v.startswith("{") else v for k, v in data.items()}
    response = getattr(client_for(persona, personas, login), method)(url, data or {})
    assert response.status_code == expected[persona], (page, persona, response.status_code)
    assert sim_token(kubesim, "reg-a").encode() not in response.content


def test_members_see_only_bound_clusters_read_only(world, personas, login):
    html = login(personas["viewer"]).get("/clusters/").content.decode()
    assert "Reg A" in html and "East 1b" not in html
    assert "/clusters/-/register/" not in html and "Stop all propagation" not in html
    detail = login(personas["viewer"]).get("/clusters/reg-a/").content.decode()
    assert "/clusters/reg-a/cordon/" not in detail and "Replace credentials" not in detail
    outsider = login(personas["outsider"]).get("/clusters/").content.decode()
    assert "Reg A" not in outsider and "East 1b" in outsider
    operator = login(personas["operator"]).get("/clusters/").content.decode()
    assert "Reg A" in operator and "East 1b" in operator and "/clusters/-/register/" in operator


def test_operator_actions_take_effect(world, personas, login, federation):
    client = login(personas["operator"])
    assert client.post("/clusters/reg-a/cordon/", {"reason": "upgrade"}).status_code == 302
    assert Cluster.objects.get(slug="reg-a").cordoned
    page = client.get("/clusters/reg-a/").content.decode()
    assert "Cordoned" in page and "/clusters/reg-a/uncordon/" in page
    client.post("/clusters/-/switch/", {"action": "stop", "reason": "incident 42"})
    assert PlatformSwitch.get().propagation_paused
    assert "incident 42" in login(personas["viewer"]).get("/clusters/").content.decode()
    response = client.post("/clusters/-/switch/", {"action": "stop", "reason": ""})
    assert response.status_code == 302  # already stopped: nothing to do
    client.post("/clusters/-/switch/", {"action": "resume"})
    assert not PlatformSwitch.get().propagation_paused
    assert ("cluster_switch_changed", None, None) in federation.calls


def test_stopping_without_reason_shows_the_error(world, personas, login):
    response = login(personas["operator"]).post("/clusters/-/switch/", {"action": "stop", "reason": ""})
    assert response.status_code == 200 and "Say why" in response.content.decode()


def test_register_by_paste_and_by_upload(world, personas, login, kubesim):
    client = login(personas["operator"])
    base = {"cell": "east-1b", "labels": "env-tier=dev\nteam=core", "weight": "2", "probe": "on"}
    response = client.post("/clusters/-/register/", {**base, "name": "Reg B", "slug": "reg-b",
                                                     "kubeconfig": kubeconfig_text(kubesim, "reg-b")})
    assert response.status_code == 302 and response["Location"] == "/clusters/reg-b/"
    upload = SimpleUploadedFile("reg-c.kubeconfig", kubeconfig_text(kubesim, "reg-c").encode())
    response = client.post("/clusters/-/register/", {**base, "name": "Reg C", "slug": "reg-c",
                                                     "kubeconfig_file": upload})
    assert response.status_code == 302
    cluster = Cluster.objects.get(slug="reg-c")
    assert cluster.labels == {"env-tier": "dev", "team": "core"} and cluster.weight == 2
    for name in ("reg-b", "reg-c"):
        page = client.get(f"/clusters/{name}/")
        assert page.status_code == 200 and sim_token(kubesim, name).encode() not in page.content
        assert b"Stored encrypted; never shown." in page.content


def test_register_errors_name_the_problem_and_never_echo_the_kubeconfig(world, personas, login, kubesim):
    client = login(personas["operator"])
    text = kubeconfig_text(kubesim, "reg-b").replace("kind: Config", "kind: Nope")
    response = client.post("/clusters/-/register/", {"cell": "east-1a", "name": "X", "slug": "x", "weight": "1",
                                                     "kubeconfig": text})
    html = response.content.decode()
    assert response.status_code == 200 and "expected kind: Config" in html
    assert sim_token(kubesim, "reg-b") not in html
    assert "no-store" in response["Cache-Control"]
    response = client.post("/clusters/-/register/", {"cell": "east-1a", "name": "X", "slug": "x", "weight": "1"})
    assert "Paste or upload a kubeconfig" in response.content.decode()
    assert not Cluster.objects.filter(slug="x").exists()


def test_bindings_page(world, personas, login):
    operator = login(personas["operator"]).get("/clusters/-/bindings/").content.decode()
    assert "Acme Payments" in operator and "Globex Bank" in operator and 'name="target"' in operator
    viewer = login(personas["viewer"]).get("/clusters/-/bindings/").content.decode()
    assert "Acme Payments" in viewer and "Globex Bank" not in viewer and 'name="target"' not in viewer
    response = login(personas["operator"]).post(
        "/clusters/-/bindings/add/", {"environment": world["acme_dev"], "target": "cluster:reg-a",
                                      "next": "/clusters/-/bindings/?tenant=acme"})
    assert response["Location"] == "/clusters/-/bindings/?tenant=acme"
    assert EnvironmentBinding.objects.filter(environment_id=world["acme_dev"], cluster__slug="reg-a").exists()


def test_zone_page_shows_drill_buttons_to_operators_only(world, personas, login):
    operator = login(personas["operator"]).get("/clusters/-/zones/east-1/").content.decode()
    assert "/clusters/-/zones/east-1/fail/" in operator and "/clusters/-/cells/east-1a/fail/" in operator
    viewer = login(personas["viewer"]).get("/clusters/-/zones/east-1/").content.decode()
    assert "/fail/" not in viewer and "East 1b" not in viewer
