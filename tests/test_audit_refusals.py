"""Writes refused before any service saw them are audited: another tenant's object
(answered 404 like a missing one, and still indistinguishable from one) and pages
or endpoints that refuse with 403 up front. One event per refusal, never two."""
import pytest

from paas.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

API = "/api/v1"


def events_since(mark):
    return list(AuditEvent.objects.filter(id__gt=mark).order_by("id"))


def mark():
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _body(response):
    body = response.json()
    body.pop("request_id", None)
    return body


def test_api_write_to_another_tenant_is_a_plain_404_and_audited(personas, login, tenant):
    outsider = login(personas["outsider"])
    start = mark()
    foreign = outsider.post(f"{API}/tenants/acme/environments/", {"slug": "x", "name": "X", "kind": "dev"},
                            content_type="application/json")
    missing = outsider.post(f"{API}/tenants/nosuch/environments/", {"slug": "x", "name": "X", "kind": "dev"},
                            content_type="application/json")
    # The caller cannot tell acme exists.
    assert foreign.status_code == missing.status_code == 404
    assert _body(foreign) == _body(missing)
    first, second = events_since(start)
    assert (first.outcome, first.action, first.actor_label, first.tenant_id) == (
        "denied", "request.post", "outsider", tenant.pk)
    assert "tenant the actor cannot see" in first.reason
    assert first.target_label == f"{API}/tenants/acme/environments/"
    assert (second.outcome, second.tenant_id) == ("denied", None)
    assert "no such object" in second.reason


def test_page_write_to_another_tenant_is_audited_against_that_tenant(personas, login, tenant):
    outsider = login(personas["outsider"])
    start = mark()
    response = outsider.post("/tenants/acme/environments/new/", {"slug": "x", "name": "X", "kind": "dev"})
    assert response.status_code == 404
    (event,) = events_since(start)
    assert (event.outcome, event.tenant_id, event.user_id) == ("denied", tenant.pk, personas["outsider"].pk)
    assert event.target_type == "url" and event.target_id == "tenants:environment-create"
    # A read of the same page is no attempted change: nothing recorded.
    start = mark()
    assert outsider.get("/tenants/acme/environments/new/").status_code == 404
    assert events_since(start) == []


def test_page_refusing_up_front_with_403_is_audited(personas, login):
    """The federated-type toggle refuses non-operators before any service is called."""
    from clusters.federation.models import FederatedType

    ftype = FederatedType.objects.first()
    if ftype is None:
        pytest.skip("no federated type seeded")
    start = mark()
    response = login(personas["owner"]).post(f"/federation/-/types/{ftype.pk}/toggle/")
    assert response.status_code == 403
    (event,) = events_since(start)
    assert (event.outcome, event.action, event.actor_label) == ("denied", "request.post", "owner")
    assert "403" in event.reason


def test_a_refusal_already_audited_by_the_service_is_not_recorded_twice(personas, login):
    start = mark()
    response = login(personas["viewer"]).post("/tenants/acme/environments/new/",
                                              {"slug": "x", "name": "X", "kind": "dev"})
    assert response.status_code == 403
    assert [(e.action, e.outcome) for e in events_since(start)] == [("tenant.environment.create", "denied")]


def test_anonymous_refusals_are_not_recorded(tenant, client):
    start = mark()
    client.post(f"{API}/tenants/acme/environments/", {}, content_type="application/json")
    client.post("/tenants/acme/environments/new/", {})
    assert events_since(start) == []
