"""The YAML editor's server side: validation errors carry the line their field path
points to (yaml_lines), the form re-rendered with errors carries those markers for
the editor, new resources start from a per-type starter, and the preview page's
"Apply this change" saves exactly the previewed input unless the resource changed
since (stale generation)."""
import html
import json
import re

import pytest
import yaml
from django.test import Client

from clusters.federation import services, skeletons, validation
from clusters.federation.forms import FederatedResourceForm, parse_document
from clusters.federation.models import FederatedResource, FederatedType
from clusters.federation.yaml_lines import line_of, split_path, syntax_position
from paas.audit.models import AuditEvent
from tests.factories import PASSWORD

from .conftest import SYSTEM, converge, deployment
from .test_fed_pages import TEMPLATE, urls

PLACEMENT = """# spread by cell
cells: [cell-a, cell-b]
replicaScheduling:
  type: Divided
  totalReplicas: 6
  weights:
    cell-a: 2
    sim-9: 1
"""
OVERRIDES = """- clusters: [fed-a1]
  operations:
  - op: replace
    path: /spec/replicas
    value: 1
  - {op: add, path: /metadata/labels/tier, value: x}
- clusterSelector: {matchLabels: {a: b}}
  operations: []
"""
LABELS = """metadata:
  name: shop
  labels:
    app: shop
    app.kubernetes.io/name: shop
    app.kubernetes.io: short
"""


# --- yaml_lines ---------------------------------------------------------------------

def test_split_path_keeps_indexes_and_dotted_names():
    assert split_path("overrides[1].operations[0].path") == ["overrides", 1, "operations", 0, "path"]
    assert split_path("a[0][2].b") == ["a", 0, 2, "b"]
    assert split_path("template.metadata.labels.app.kubernetes.io/name") == [
        "template", "metadata", "labels", "app", "kubernetes", "io/name"]


@pytest.mark.parametrize("path,line", [
    ("placement.replicaScheduling.weights.sim-9", 8),
    ("placement.replicaScheduling.totalReplicas", 5),
    ("placement.cells[1]", 2),
    ("placement.replicaScheduling", 3),
    # a key that does not exist: the deepest node that does (where it would be added)
    ("placement.replicaScheduling.max.cell-b", 3),
    ("placement.zones", 2),
    ("placement", 2),
])
def test_placement_paths_point_at_their_line(path, line):
    assert line_of(PLACEMENT, path, root="placement") == line


@pytest.mark.parametrize("path,line", [
    ("overrides[0].operations[1].path", 6),
    ("overrides[0].operations[0].value", 5),
    ("overrides[0].operations[0]", 3),
    ("overrides[1].clusterSelector.matchLabels.a", 7),
    ("overrides[1].operations", 8),
    ("overrides[5].operations", 1),  # no such item: the list itself
])
def test_list_indexes(path, line):
    assert line_of(OVERRIDES, path, root="overrides") == line


def test_keys_with_dots_match_the_longest_key():
    assert line_of(LABELS, "template.metadata.labels.app.kubernetes.io/name", root="template") == 5
    assert line_of(LABELS, "template.metadata.labels.app.kubernetes.io", root="template") == 6
    assert line_of(LABELS, "template.metadata.labels.app", root="template") == 4


def test_json_documents_and_unusable_input():
    assert line_of('{\n  "spec": {\n    "replicas": -1\n  }\n}', "template.spec.replicas", root="template") == 3
    assert line_of(PLACEMENT, "overrides[0]", root="placement") is None  # another field's path
    assert line_of("", "placement.cells", root="placement") is None
    assert line_of("cells: [unclosed", "placement.cells", root="placement") is None
    assert line_of("# only a comment\n", "placement.cells", root="placement") is None


def test_syntax_errors_have_a_line_and_column():
    with pytest.raises(yaml.YAMLError) as info:
        yaml.safe_load("a: 1\nb: c: d\n")
    assert syntax_position(info.value) == (2, 5)
    with pytest.raises(Exception) as info:
        parse_document("spec:\n  replicas: 2\n   bad: indent\n", empty={})
    assert info.value.position == (3, 7)


# --- markers on the re-rendered form -----------------------------------------------

def diagnostics(page: str, field: str) -> list:
    match = re.search(rf'<textarea name="{field}"[^>]*data-diagnostics="([^"]*)"', page)
    assert match, f"no markers on {field}"
    return json.loads(html.unescape(match.group(1)))


def test_service_errors_are_marked_at_their_line(personas, login, topology, ftypes):
    client = login(personas["developer"])
    response = client.post("/federation/acme/prod/new/", {
        "ftype": ftypes["Deployment"].pk, "template": TEMPLATE, "placement": PLACEMENT})
    assert response.status_code == 200
    page = response.content.decode()
    [marker] = diagnostics(page, "placement")
    assert marker["line"] == 8 and "sim-9" in marker["message"] and marker["syntax"] is False
    assert 'data-diagnostics' not in page.split('<textarea name="template"')[1].split(">")[0]

    response = client.post("/federation/acme/prod/new/", {
        "ftype": ftypes["Deployment"].pk, "template": TEMPLATE,
        "overrides": "- clusters: [fed-a1]\n  operations:\n  - op: replace\n    path: /spec/nope/x\n    value: 1\n"})
    [marker] = diagnostics(response.content.decode(), "overrides")
    assert marker["line"] == 4 and marker["message"].startswith("overrides[0].operations[0].path")

    broken = TEMPLATE.replace("  replicas: 2\n", "  replicas: [2\n")
    [marker] = diagnostics(client.post("/federation/acme/prod/new/", {
        "ftype": ftypes["Deployment"].pk, "template": broken}).content.decode(), "template")
    assert "Not valid YAML" in marker["message"] and marker["line"] >= 6 and marker["column"] and marker["syntax"]
    assert not FederatedResource.objects.exists()


def test_edit_form_marks_template_errors(personas, login, topology, ftypes):
    resource = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                                  ftype=ftypes["Deployment"], name="shop",
                                                  template=yaml.safe_load(TEMPLATE))
    client = login(personas["developer"])
    wrong = TEMPLATE.replace("  replicas: 2", "  replicas: -3")
    response = client.post(urls(resource)["edit"], {"template": wrong, "placement": "", "overrides": ""})
    assert response.status_code == 200
    [marker] = diagnostics(response.content.decode(), "template")
    assert marker["line"] == 6 and "template.spec.replicas" in marker["message"]
    # the editor and its styles get the request's nonce, which the header allows
    page = response.content.decode()
    nonce = re.search(r'<script src="[^"]*js/editor\.js" nonce="([^"]+)"', page).group(1)
    assert f"'nonce-{nonce}'" in response["Content-Security-Policy"].split("style-src")[1].split(";")[0]


# --- starters -----------------------------------------------------------------------

def test_create_page_starts_from_the_chosen_type(personas, login, topology, ftypes):
    client = login(personas["developer"])
    page = client.get("/federation/acme/prod/new/").content.decode()
    assert "kind: Deployment" in html.unescape(page) and 'id="editor-starters"' in page
    assert "# cells: [cell-a, cell-b]" in html.unescape(page)
    page = html.unescape(client.get(f"/federation/acme/prod/new/?type={ftypes['Service'].pk}").content.decode())
    assert "kind: Service" in page and "path: /spec/type" in page
    assert f'<option value="{ftypes["Service"].pk}" selected>' in page


@pytest.mark.parametrize("kind", ["Deployment", "Service", "ConfigMap", "Secret"])
def test_starters_are_valid_resources(topology, ftypes, kind):
    ftype = ftypes[kind]
    template = yaml.safe_load(skeletons.template_for(ftype))
    assert validation.validate_template(ftype, "my-app", template)["kind"] == kind
    assert yaml.safe_load(skeletons.placement_start()) is None  # comments only: every bound cluster
    assert yaml.safe_load(skeletons.overrides_start(ftype)) is None


def test_generic_starter_for_a_crd(db):
    widget = FederatedType(group="example.com", version="v1", kind="Widget", plural="widgets")
    template = yaml.safe_load(skeletons.template_for(widget))
    assert template == {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "my-app"},
                        "spec": {}}
    statefulset = FederatedType(group="apps", version="v1", kind="StatefulSet", plural="statefulsets")
    assert yaml.safe_load(skeletons.template_for(statefulset))["spec"]["serviceName"] == "my-app"


def test_a_bound_form_keeps_what_was_posted(topology, ftypes):
    # a posted form is never replaced by a starter, even an empty one
    form = FederatedResourceForm({"ftype": ftypes["Service"].pk, "template": ""}, types=FederatedType.objects.all())
    assert not form.is_valid() and form["template"].value() == ""


# --- apply from the preview ---------------------------------------------------------

@pytest.fixture
def shop(topology, ftypes):
    resource = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                                  ftype=ftypes["Deployment"], name="shop",
                                                  template=yaml.safe_load(TEMPLATE))
    converge()
    return resource


def apply_form(page: str) -> dict:
    """The hidden fields of the preview page's first "Apply this change" form."""
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*id="apply-top">(.*?)</form>', page, re.S)
    assert form, "no apply form"
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(2)))
    return {"action": form.group(1), **{k: html.unescape(v) for k, v in fields.items()}}


def test_apply_saves_exactly_the_previewed_change(personas, login, shop):
    client = login(personas["developer"])
    changed = TEMPLATE.replace("nginx:1.25", "nginx:1.26")
    placement = "replicaScheduling: {type: Divided, totalReplicas: 4}\n"
    page = client.post(urls(shop)["preview"], {"template": changed, "placement": placement, "overrides": ""})
    assert page.status_code == 200
    fields = apply_form(page.content.decode())
    assert fields["action"] == urls(shop)["edit"] and fields["base_generation"] == "1"
    assert fields["template"] == changed and fields["placement"] == placement
    shop.refresh_from_db()
    assert shop.generation == 1  # previewing saved nothing

    response = client.post(fields.pop("action"), fields)
    assert response.status_code == 302 and response["Location"] == shop.get_absolute_url()
    shop.refresh_from_db()
    assert shop.generation == 2
    assert shop.template["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert shop.placement == {"replicaScheduling": {"type": "Divided", "totalReplicas": 4}}
    event = AuditEvent.objects.filter(action="federation.resource.update").latest("pk")
    assert event.actor_label == "developer" and event.target_id == str(shop.pk)


def test_apply_refuses_when_the_resource_changed_since_the_preview(personas, login, shop):
    client = login(personas["developer"])
    mine = TEMPLATE.replace("nginx:1.25", "nginx:1.26")
    fields = apply_form(client.post(urls(shop)["preview"], {"template": mine, "placement": "",
                                                            "overrides": ""}).content.decode())
    # meanwhile someone else saves another change
    services.federated_resource_update(actor=SYSTEM, resource=shop, template=deployment("shop", replicas=5,
                                                                                         image="nginx:1.30"))
    converge()
    updates = AuditEvent.objects.filter(action="federation.resource.update").count()
    response = client.post(fields.pop("action"), fields)
    assert response.status_code == 409
    page = response.content.decode()
    assert "changed since this preview was computed" in page and "data-stale-preview" in page
    assert "nginx:1.30" in page and "nginx:1.26" in page  # the new diff: theirs against mine
    assert apply_form(page)["base_generation"] == "2"  # applying now means applying against this state
    shop.refresh_from_db()
    assert shop.generation == 2
    assert shop.template["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.30"
    assert AuditEvent.objects.filter(action="federation.resource.update").count() == updates


def test_apply_with_a_forged_generation_is_refused(personas, login, shop):
    client = login(personas["developer"])
    for base in ("", "x", "-1", "99"):
        response = client.post(urls(shop)["edit"], {"template": TEMPLATE.replace("1.25", "1.26"),
                                                    "placement": "", "overrides": "", "base_generation": base})
        assert response.status_code == 409, base
    shop.refresh_from_db()
    assert shop.generation == 1


def test_apply_needs_the_change_permission_and_csrf(personas, login, shop):
    fields = {"template": TEMPLATE.replace("1.25", "1.26"), "placement": "", "overrides": "",
              "base_generation": "1"}
    assert login(personas["viewer"]).post(urls(shop)["edit"], fields).status_code == 403
    assert login(personas["outsider"]).post(urls(shop)["edit"], fields).status_code == 404
    assert AuditEvent.objects.filter(action="federation.resource.update", outcome="denied",
                                     actor_label="viewer").exists()
    strict = Client(enforce_csrf_checks=True)
    assert strict.login(username="developer", password=PASSWORD)
    assert strict.post(urls(shop)["edit"], fields).status_code == 403
    shop.refresh_from_db()
    assert shop.generation == 1


def test_no_apply_button_for_an_invalid_change_or_the_saved_state(personas, login, shop):
    client = login(personas["developer"])
    assert "Apply this change" not in client.get(urls(shop)["preview"]).content.decode()
    bad = client.post(urls(shop)["preview"], {"template": TEMPLATE, "placement": "cells: [nowhere]",
                                              "overrides": ""})
    assert bad.status_code == 400 and "Apply this change" not in bad.content.decode()
