"""Browsing, filtering and exporting the audit trail: pages and API, scoped per auditor."""
import csv
import datetime
import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.http import StreamingHttpResponse
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from paas import context
from paas.actors import Actor
from paas.audit.models import AuditEvent
from paas.audit.services import audit_record
from tenants.models import ApiToken

from .factories import make_token

pytestmark = pytest.mark.django_db

LIST = reverse("audit:list")
EXPORT = reverse("audit:export")
API_LIST = "/api/v1/audit-events/"
API_EXPORT = "/api/v1/audit-events/export/"
OLD = datetime.datetime(2020, 1, 15, 12, 0, tzinfo=datetime.UTC)


def record_at(monkeypatch, when, **kwargs):
    with monkeypatch.context() as patch:
        patch.setattr(timezone, "now", lambda: when)
        return audit_record(**kwargs)


@pytest.fixture
def trail(personas, tenant, other_tenant, monkeypatch):
    """Distinctive events on top of those written while creating tenants and members."""
    owner, developer = Actor.for_user(personas["owner"]), Actor.for_user(personas["developer"])
    with context.bind(request_id="req-acme-update"):
        update = audit_record(actor=owner, action="tenant.update", target=tenant,
                              before={"name": "Acme"}, after={"name": "Acme Payments"})
    denied = audit_record(actor=developer, action="tenant.member.change_role", target=tenant,
                          outcome="denied", reason="missing permission manage_members")
    old = record_at(monkeypatch, OLD, actor=owner, action="tenant.environment.update",
                    target=tenant.environments.get(slug="dev"), before={"protected": False},
                    after={"protected": True})
    globex = audit_record(actor=Actor.for_user(personas["outsider"]), action="tenant.update",
                          target=other_tenant, before={"description": ""}, after={"description": "globex-only"})
    platform = audit_record(actor=Actor.for_system("maintenance"), action="platform.maintenance")
    return {"update": update, "denied": denied, "old": old, "globex": globex, "platform": platform}


def api_ids(client, params=None) -> set[int]:
    response = client.get(API_LIST, {"page_size": 1000, **(params or {})})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def streamed(response) -> str:
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Disposition"].startswith('attachment; filename="audit-events-')
    return b"".join(response.streaming_content).decode()


# --- filters -----------------------------------------------------------------

@pytest.mark.parametrize("params,expected", [
    ({"actor": "DEVELOP"}, lambda t, qs: {t["denied"].id}),
    ({"action": "tenant.member"}, lambda t, qs: set(qs.filter(action__startswith="tenant.member.").values_list("id", flat=True))),
    ({"action": "tenant.update"}, lambda t, qs: {t["update"].id, t["globex"].id}),
    ({"action": "tenant.up"}, lambda t, qs: set()),
    ({"target_type": "tenants.environment"}, lambda t, qs: set(qs.filter(target_type="tenants.environment").values_list("id", flat=True))),
    ({"target_type": "tenants.tenant", "target_id": "__acme__"}, lambda t, qs: set(qs.filter(target_type="tenants.tenant", tenant_slug="acme").values_list("id", flat=True))),
    ({"target": "globex b"}, lambda t, qs: set(qs.filter(target_label="Globex Bank").values_list("id", flat=True))),
    ({"tenant": "globex"}, lambda t, qs: set(qs.filter(tenant_slug="globex").values_list("id", flat=True))),
    ({"outcome": "denied"}, lambda t, qs: {t["denied"].id}),
    ({"until": "2021-01-01T00:00:00Z"}, lambda t, qs: {t["old"].id}),
    ({"since": "2020-01-15T11:00", "until": "2020-01-15T13:00"}, lambda t, qs: {t["old"].id}),
    ({"since": "2021-01-01T00:00:00+00:00", "outcome": "denied"}, lambda t, qs: {t["denied"].id}),
])
def test_each_api_filter_narrows_correctly(login, personas, tenant, trail, params, expected):
    if params.get("target_id") == "__acme__":
        params = {**params, "target_id": str(tenant.pk)}
    ids = api_ids(login(personas["operator"]), params)
    assert ids == expected(trail, AuditEvent.objects.all())
    assert ids or params == {"action": "tenant.up"}


def test_page_filters_narrow_the_table(login, personas, trail):
    client = login(personas["operator"])
    shown = {e.id for e in client.get(LIST, {"outcome": "denied"}).context["events"]}
    assert shown == {trail["denied"].id}
    response = client.get(LIST, {"tenant": "acme", "action": "tenant.update", "actor": "owner"})
    assert [e.id for e in response.context["events"]] == [trail["update"].id]
    assert "?request_id=req-acme-update" in response.content.decode()
    assert [e.id for e in client.get(LIST, {"request_id": "req-acme-update"}).context["events"]] == [trail["update"].id]
    response = client.get(LIST, {"since": "not a date"})
    assert response.status_code == 400
    assert "since" in response.content.decode()


# --- who sees what -------------------------------------------------------------

def test_auditor_sees_only_their_tenants_events(login, personas, trail):
    client = login(personas["auditor"])
    response = client.get(LIST, {"page_size": 200})
    assert response.status_code == 200
    events = response.context["events"]
    assert events and {e.tenant_slug for e in events} == {"acme"}
    assert "globex" not in response.content.decode().lower()
    assert client.get(LIST, {"tenant": "globex"}).context["events"] == []
    ids = api_ids(client)
    assert trail["update"].id in ids and trail["globex"].id not in ids and trail["platform"].id not in ids


def test_outsider_audits_only_the_tenant_they_own(login, personas, trail):
    response = login(personas["outsider"]).get(LIST)
    assert response.status_code == 200
    assert {e.tenant_slug for e in response.context["events"]} == {"globex"}
    assert trail["globex"].id in {e.id for e in response.context["events"]}
    assert "acme" not in response.content.decode().lower()


def test_operator_sees_every_tenant_and_platform_events(login, personas, trail):
    ids = {e.id for e in login(personas["operator"]).get(LIST).context["events"]}
    assert {trail["update"].id, trail["globex"].id, trail["platform"].id} <= ids


@pytest.mark.parametrize("role", ["viewer", "developer", "approver"])
def test_members_who_may_audit_nothing_get_403(login, personas, trail, role):
    client = login(personas[role])
    page = client.get(LIST)
    assert page.status_code == 403
    assert "You may not audit any tenant" in page.content.decode()
    assert client.get(reverse("audit:detail", args=[trail["update"].id])).status_code == 403
    assert client.get(EXPORT, {"format": "csv"}).status_code == 403
    response = client.get(API_LIST)
    assert response.status_code == 403
    assert "view_audit" in response.json()["error"]["message"]
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_anonymous_is_sent_to_login(client, trail):
    response = client.get(LIST)
    assert response.status_code == 302
    assert client.get(API_LIST).status_code in (401, 403)


def test_detail_shows_the_diff_and_hashes(login, personas, trail):
    client = login(personas["auditor"])
    event = trail["update"]
    response = client.get(reverse("audit:detail", args=[event.id]))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<span class="font-monospace small">Acme</span>' in body and "Acme Payments" in body
    assert event.hash in body and event.prev_hash in body
    assert response.context["diff_rows"] == [
        {"field": "name", "before": "Acme", "after": "Acme Payments", "changed": True}]
    assert response.context["hash_matches"]
    assert client.get(reverse("audit:detail", args=[trail["globex"].id])).status_code == 404
    assert client.get(reverse("audit:detail", args=[trail["platform"].id])).status_code == 404


# --- keyset navigation ------------------------------------------------------------

def test_newer_and_older_links_walk_the_trail_by_id(login, personas, tenant, trail):
    for i in range(60):
        audit_record(actor=Actor.for_system("tests"), action="tenant.ping", target=tenant, after={"i": i})
    client = login(personas["auditor"])
    expected = list(AuditEvent.objects.filter(action="tenant.ping").order_by("-id").values_list("id", flat=True))
    first = client.get(LIST, {"action": "tenant.ping"})
    page1 = [e.id for e in first.context["events"]]
    assert page1 == expected[:50]
    assert not first.context["has_newer"] and first.context["has_older"]
    assert f"before={page1[-1]}" in first.content.decode()
    second = client.get(LIST, {"action": "tenant.ping", "before": page1[-1]})
    assert [e.id for e in second.context["events"]] == expected[50:]
    assert second.context["has_newer"] and not second.context["has_older"]
    back = client.get(LIST, {"action": "tenant.ping", "after": second.context["newer_id"]})
    assert [e.id for e in back.context["events"]] == page1


# --- exports ----------------------------------------------------------------------

def test_csv_export_is_streamed_filtered_and_audited(login, personas, tenant, trail):
    client = login(personas["auditor"])
    response = client.get(EXPORT, {"format": "csv", "action": "tenant.update"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(streamed(response))))
    assert [int(r["id"]) for r in rows] == [trail["update"].id]
    assert json.loads(rows[0]["changes"]) == {"after": {"name": "Acme Payments"}, "before": {"name": "Acme"}}
    assert rows[0]["hash"] == trail["update"].hash
    record = AuditEvent.objects.get(action="audit.export")
    assert record.actor_label == "auditor" and record.tenant_id is None
    assert record.changes["after"] == {"format": "csv", "filters": {"action": "tenant.update"}}


def test_json_export_is_a_valid_array_scoped_to_one_tenant(login, personas, tenant, trail):
    client = login(personas["operator"])
    response = client.get(EXPORT, {"format": "json", "tenant": "acme", "since": "2020-01-01T00:00"})
    assert response["Content-Type"] == "application/json"
    data = json.loads(streamed(response))
    expected = AuditEvent.objects.filter(tenant_id=tenant.pk, created_at__gte=datetime.datetime(
        2020, 1, 1, tzinfo=datetime.UTC)).exclude(action="audit.export")
    assert {row["id"] for row in data if row["action"] != "audit.export"} == set(expected.values_list("id", flat=True))
    assert [row["id"] for row in data] == sorted(row["id"] for row in data)
    assert all(row["tenant_slug"] == "acme" for row in data)
    record = AuditEvent.objects.get(action="audit.export")
    assert record.tenant_id == tenant.pk
    assert record.changes["after"]["filters"] == {"tenant": "acme", "since": "2020-01-01T00:00:00+00:00"}


def test_export_of_an_empty_selection_is_still_valid(login, personas, trail):
    client = login(personas["auditor"])
    assert json.loads(streamed(client.get(EXPORT, {"format": "json", "actor": "nobody-at-all"}))) == []
    text = streamed(client.get(EXPORT, {"format": "csv", "actor": "nobody-at-all"}))
    assert text.splitlines() == [text.splitlines()[0]] and text.startswith("id,created_at,")
    assert client.get(EXPORT, {"format": "xml"}).status_code == 400


def test_csv_export_neutralises_spreadsheet_formulas(login, personas, tenant):
    audit_record(actor=Actor.for_system("tests"), action="tenant.update", target=("tenants.tenant", "1", "=HYPERLINK(1)"),
                 tenant=tenant)
    rows = list(csv.DictReader(io.StringIO(streamed(login(personas["auditor"]).get(EXPORT, {"target": "hyperlink"})))))
    assert rows[0]["target_label"] == "'=HYPERLINK(1)"


def test_export_under_asgi_streams_an_async_iterator(personas, trail):
    async def fetch():
        client = AsyncClient()
        await client.aforce_login(personas["auditor"])
        response = await client.get(EXPORT, {"format": "json"})
        assert response.is_async
        return b"".join([chunk async for chunk in response.streaming_content])

    data = json.loads(async_to_sync(fetch)())
    assert trail["update"].id in {row["id"] for row in data}
    assert all(row["tenant_slug"] == "acme" for row in data)


# --- API -----------------------------------------------------------------------------

def test_api_list_uses_cursor_pagination(login, personas, trail):
    client = login(personas["operator"])
    first = client.get(API_LIST, {"page_size": 3}).json()
    assert len(first["results"]) == 3 and "cursor=" in first["next"] and first["previous"] is None
    second = client.get(first["next"]).json()
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 6
    assert set(first["results"][0]) >= {"actor_label", "action", "changes", "hash", "prev_hash", "source_ip"}


def test_api_with_an_auditor_token(personas, tenant, trail):
    token, plaintext = make_token(personas["auditor"], tenant, scope=ApiToken.Scope.READ)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    ids = api_ids(client)
    assert trail["update"].id in ids and trail["globex"].id not in ids
    assert client.get(f"{API_LIST}{trail['globex'].id}/").status_code == 404
    assert client.get(f"{API_LIST}{trail['update'].id}/").json()["changes"]["after"] == {"name": "Acme Payments"}
    response = client.get(API_EXPORT, {"format": "csv", "outcome": "denied"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(streamed(response))))
    assert [int(r["id"]) for r in rows] == [trail["denied"].id]
    record = AuditEvent.objects.get(action="audit.export")
    assert record.actor_type == "token" and record.changes["after"]["filters"] == {"outcome": "denied"}


def test_api_json_export_and_bad_input(login, personas, trail):
    client = login(personas["outsider"])
    response = client.get(API_EXPORT, {"format": "json"})
    data = json.loads(streamed(response))
    assert data and {row["tenant_slug"] for row in data} == {"globex"}
    bad = client.get(API_EXPORT, {"format": "pdf"})
    assert bad.status_code == 400 and "format" in bad.json()["error"]["fields"]
    assert client.get(API_LIST, {"since": "yesterday-ish"}).status_code == 400


def test_api_developer_token_is_refused(personas, tenant, trail):
    _, plaintext = make_token(personas["developer"], tenant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    response = client.get(API_LIST)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert client.get(API_EXPORT, {"format": "json"}).status_code == 403


# --- Django admin ----------------------------------------------------------------------

def test_admin_is_read_only_for_everyone_and_scoped(login, personas, trail):
    changelist = reverse("admin:audit_auditevent_changelist")
    root = login(personas["superuser"])
    assert root.get(changelist).status_code == 200
    assert root.get(reverse("admin:audit_auditevent_add")).status_code == 403
    change_url = reverse("admin:audit_auditevent_change", args=[trail["update"].id])
    assert root.get(change_url).status_code == 200
    assert root.post(change_url, {"action": "forged"}).status_code == 403
    assert root.get(reverse("admin:audit_auditevent_delete", args=[trail["update"].id])).status_code == 403
    assert AuditEvent.objects.get(pk=trail["update"].id).action == "tenant.update"

    auditor = personas["auditor"]
    auditor.is_staff = True
    auditor.save()
    shown = {e.id for e in login(auditor).get(changelist).context["cl"].result_list}
    assert trail["update"].id in shown and trail["globex"].id not in shown and trail["platform"].id not in shown
    operator_shown = {e.id for e in login(personas["operator"]).get(changelist).context["cl"].result_list}
    assert trail["platform"].id in operator_shown
    viewer = personas["viewer"]
    viewer.is_staff = True
    viewer.save()
    assert login(viewer).get(changelist).status_code == 403
