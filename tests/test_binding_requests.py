"""Binding requests: a developer asks for an environment to run on a cell, an operator
approves (the binding exists) or rejects with a comment (none); every step audited;
only operators decide; pages and API."""
import json

import pytest
from django.contrib.auth.models import Permission

from clusters import binding_requests as service
from clusters.models import BindingRequest, Cell, EnvironmentBinding, Region, Zone
from paas.actors import Actor
from paas.audit.models import AuditEvent
from paas.errors import Conflict, DomainError
from paas.permissions import NotPermitted


@pytest.fixture
def cell(db):
    region = Region.objects.create(name="East", slug="east")
    zone = Zone.objects.create(region=region, name="East 1", slug="east-1")
    return Cell.objects.create(zone=zone, name="East 1a", slug="east-1a")


@pytest.fixture
def people(personas):
    personas["operator"].user_permissions.add(*Permission.objects.filter(
        content_type__app_label="clusters", codename__in=["add_environmentbinding", "view_environmentbinding",
                                                          "view_cluster", "view_cell"]))
    return personas


def actor(user):
    return Actor.for_user(user)


def test_developer_requests_operator_approves_and_the_binding_exists(people, tenant, cell):
    prod = tenant.environments.get(slug="prod")
    asked = service.binding_request_create(actor=actor(people["developer"]), environment=prod, cell=cell,
                                           reason="launch in east")
    assert asked.is_pending and not EnvironmentBinding.objects.exists()
    with pytest.raises(Conflict):  # one pending request per environment and target
        service.binding_request_create(actor=actor(people["developer"]), environment=prod, cell=cell, reason="again")
    with pytest.raises(NotPermitted):  # tenant roles do not decide, not even the owner
        service.binding_request_approve(actor=actor(people["owner"]), request=asked)
    assert AuditEvent.objects.filter(action="cluster.binding_request.approve", outcome="denied").exists()
    service.binding_request_approve(actor=actor(people["operator"]), request=asked, comment="ok")
    assert EnvironmentBinding.objects.filter(environment=prod, cell=cell).exists()
    assert BindingRequest.objects.get(pk=asked.pk).state == "approved"
    actions = set(AuditEvent.objects.filter(outcome="success").values_list("action", flat=True))
    assert {"cluster.binding_request.create", "cluster.binding_request.approve", "cluster.binding.create"} <= actions
    with pytest.raises(Conflict):  # decided already
        service.binding_request_reject(actor=actor(people["operator"]), request=asked, comment="no")
    with pytest.raises(Conflict):  # bound already: nothing left to ask for
        service.binding_request_create(actor=actor(people["developer"]), environment=prod, cell=cell, reason="x")


def test_reject_needs_a_comment_and_binds_nothing(people, tenant, cell):
    dev = tenant.environments.get(slug="dev")
    asked = service.binding_request_create(actor=actor(people["developer"]), environment=dev, cell=cell,
                                           reason="tests")
    with pytest.raises(DomainError):
        service.binding_request_reject(actor=actor(people["operator"]), request=asked, comment=" ")
    service.binding_request_reject(actor=actor(people["operator"]), request=asked, comment="use staging")
    assert not EnvironmentBinding.objects.exists()
    row = BindingRequest.objects.get(pk=asked.pk)
    assert row.state == "rejected" and row.comment == "use staging"
    assert AuditEvent.objects.filter(action="cluster.binding_request.reject", outcome="success").exists()


def test_viewer_may_not_request(people, tenant, cell):
    with pytest.raises(NotPermitted):
        service.binding_request_create(actor=actor(people["viewer"]), environment=tenant.environments.get(slug="prod"),
                                       cell=cell, reason="please")
    assert not BindingRequest.objects.exists()


def test_pages_request_queue_and_decide(people, login, tenant, cell):
    developer = login(people["developer"])
    assert developer.get("/clusters/-/binding-requests/new/").status_code == 200
    prod = tenant.environments.get(slug="prod")
    answer = developer.post("/clusters/-/binding-requests/new/",
                            {"environment": prod.pk, "target": "cell:east-1a", "reason": "launch"})
    assert answer.status_code == 302
    asked = BindingRequest.objects.get()
    assert "launch" in developer.get("/clusters/-/binding-requests/").content.decode()
    # A developer's decision is refused before any lookup.
    assert developer.post(f"/clusters/-/binding-requests/{asked.pk}/decide/",
                          {"decision": "approve"}).status_code == 403
    assert people["outsider"] and "launch" not in login(people["outsider"]).get(
        "/clusters/-/binding-requests/").content.decode()
    operator = login(people["operator"])
    queue = operator.get("/clusters/-/binding-requests/").content.decode()
    assert "launch" in queue and "Approve" in queue
    assert operator.post(f"/clusters/-/binding-requests/{asked.pk}/decide/",
                         {"decision": "approve", "comment": ""}).status_code == 302
    assert EnvironmentBinding.objects.filter(environment=prod, cell=cell).exists()


def test_api_request_and_decide(people, login, tenant, cell):
    developer = login(people["developer"])
    body = {"tenant": tenant.slug, "environment": "dev", "cell": "east-1a", "reason": "tests"}
    created = developer.post("/api/v1/binding-requests/", json.dumps(body), content_type="application/json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["state"] == "pending" and created.json()["requested_by"] == "developer"
    assert developer.post(f"/api/v1/binding-requests/{pk}/approve/", "{}",
                          content_type="application/json").status_code == 403
    operator = login(people["operator"])
    assert [r["id"] for r in operator.get("/api/v1/binding-requests/?state=pending").json()["results"]] == [pk]
    rejected = operator.post(f"/api/v1/binding-requests/{pk}/reject/", json.dumps({"comment": "not now"}),
                             content_type="application/json")
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert not EnvironmentBinding.objects.exists()
    assert operator.post("/api/v1/binding-requests/nope/approve/", "{}",
                         content_type="application/json").status_code == 404
    bad = developer.post("/api/v1/binding-requests/", json.dumps({**body, "cell": "nowhere"}),
                         content_type="application/json")
    assert bad.status_code == 404
