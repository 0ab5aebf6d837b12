"""Quota requests: a tenant asks, a platform operator approves (the quota changes
through the same service operators use, and reaches member clusters like any quota
change) or rejects; the tenant may cancel. Every transition is audited and pushed
as a live event; validation names the field."""
import pytest
from django.utils import timezone

from paas.actors import Actor
from paas.audit.models import AuditEvent
from paas.errors import Conflict, DomainError
from paas.permissions import NotPermitted
from tenants import quota_requests as qr
from tenants.models import Quota, QuotaRequest

from .factories import make_token

pytestmark = pytest.mark.django_db

API = "/api/v1"
ACME = f"{API}/tenants/acme"


def audit_mark() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def events_since(mark: int) -> list[tuple[str, str]]:
    return list(AuditEvent.objects.filter(id__gt=mark).order_by("id").values_list("action", "outcome"))


def quota(tenant, env="dev") -> Quota:
    return Quota.objects.get(tenant=tenant, environment__slug=env)


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


@pytest.fixture
def events(monkeypatch):
    """Live events sent to tenant groups (after commit)."""
    sent = []
    monkeypatch.setattr("paas.realtime.emit._send", lambda group, message: sent.append((group, message["payload"])))
    return sent


@pytest.fixture
def owner_actor(personas):
    return Actor.for_user(personas["owner"])


@pytest.fixture
def operator_actor(personas):
    return Actor.for_user(personas["operator"])


def ask(actor, tenant, env="dev", reason="Black Friday load test", **values):
    environment = tenant.environments.get(slug=env)
    return qr.quota_request_create(actor=actor, environment=environment, reason=reason, **values)


# --- services --------------------------------------------------------------------

def test_approve_applies_the_quota_atomically_and_audits_each_step(
        personas, tenant, owner_actor, operator_actor, events, django_capture_on_commit_callbacks):
    mark = audit_mark()
    with django_capture_on_commit_callbacks(execute=True):
        request = ask(owner_actor, tenant, cpu_millicores=8000, pods=80)
    assert request.state == "pending" and request.requested_by == personas["owner"]
    assert request.previous["cpu_millicores"] == 4000 and request.memory_mib == 8192  # unchanged fields kept
    assert quota(tenant).cpu_millicores == 4000  # asking changes nothing yet
    with django_capture_on_commit_callbacks(execute=True):
        qr.quota_request_approve(actor=operator_actor, request=request, comment="ok for Q4")
    request.refresh_from_db()
    assert (request.state, request.decided_by, request.comment) == ("approved", personas["operator"], "ok for Q4")
    assert (quota(tenant).cpu_millicores, quota(tenant).pods) == (8000, 80)
    assert events_since(mark) == [("tenant.quota_request.create", "success"), ("tenant.quota.update", "success"),
                                  ("tenant.quota_request.approve", "success")]
    approve = AuditEvent.objects.filter(action="tenant.quota_request.approve").get()
    assert approve.tenant_slug == "acme" and approve.user_id == personas["operator"].pk
    types = [payload["type"] for group, payload in events if group == f"tenant.{tenant.pk}"]
    assert types == ["quota_request.created", "quota.updated", "quota_request.approved"]


def test_reject_needs_a_comment_and_leaves_the_quota(tenant, owner_actor, operator_actor):
    request = ask(owner_actor, tenant, pods=500)
    with pytest.raises(DomainError) as exc:
        qr.quota_request_reject(actor=operator_actor, request=request, comment="  ")
    assert exc.value.field == "comment"
    mark = audit_mark()
    qr.quota_request_reject(actor=operator_actor, request=request, comment="Use the shared pool")
    request.refresh_from_db()
    assert request.state == "rejected" and request.comment == "Use the shared pool"
    assert quota(tenant).pods == 50
    assert events_since(mark) == [("tenant.quota_request.reject", "success")]


def test_requester_cancels_while_pending_only(tenant, owner_actor, operator_actor, personas):
    request = ask(owner_actor, tenant, pods=60)
    mark = audit_mark()
    qr.quota_request_cancel(actor=owner_actor, request=request)
    assert QuotaRequest.objects.get(pk=request.pk).state == "cancelled"
    assert events_since(mark) == [("tenant.quota_request.cancel", "success")]
    with pytest.raises(Conflict):  # decided: nothing more to do
        qr.quota_request_approve(actor=operator_actor, request=request)
    with pytest.raises(Conflict):
        qr.quota_request_cancel(actor=owner_actor, request=request)
    assert quota(tenant).pods == 50
    # The admin may ask too; a developer may neither ask nor cancel (denied and audited).
    second = ask(Actor.for_user(personas["admin"]), tenant, pods=70)
    mark = audit_mark()
    with pytest.raises(NotPermitted):
        qr.quota_request_cancel(actor=Actor.for_user(personas["developer"]), request=second)
    with pytest.raises(NotPermitted):
        ask(Actor.for_user(personas["developer"]), tenant, env="test", pods=70)
    assert events_since(mark) == [("tenant.quota_request.cancel", "denied"), ("tenant.quota_request.create", "denied")]


def test_only_operators_decide(tenant, owner_actor, personas):
    request = ask(owner_actor, tenant, pods=60)
    mark = audit_mark()
    for persona in ("owner", "admin"):
        with pytest.raises(NotPermitted):
            qr.quota_request_approve(actor=Actor.for_user(personas[persona]), request=request)
        with pytest.raises(NotPermitted):
            qr.quota_request_reject(actor=Actor.for_user(personas[persona]), request=request, comment="no")
    assert [a for a, o in events_since(mark) if o == "denied"] == ["tenant.quota_request.approve",
                                                                   "tenant.quota_request.reject"] * 2
    assert QuotaRequest.objects.get(pk=request.pk).state == "pending" and quota(tenant).pods == 50
    superuser = Actor.for_user(personas["superuser"])
    qr.quota_request_approve(actor=superuser, request=request)
    assert quota(tenant).pods == 60


@pytest.mark.parametrize("values, field", [
    ({"exclusive_cpuset_cores": 5}, "exclusive_cpuset_cores"),  # 5 cores need 5000 millicores; the quota has 4000
    ({"pods": -1}, "pods"),
    ({"memory_mib": Quota.MAX_MEMORY_MIB + 1}, "memory_mib"),
    ({"pods": "many"}, "pods"),
    ({"gpus": 1}, None),
])
def test_request_values_are_checked(tenant, owner_actor, values, field):
    with pytest.raises(DomainError) as exc:
        ask(owner_actor, tenant, **values)
    assert exc.value.field == field
    assert not QuotaRequest.objects.exists()


def test_request_must_change_something_and_give_a_reason(tenant, owner_actor):
    with pytest.raises(DomainError, match="current quota"):
        ask(owner_actor, tenant, cpu_millicores=4000)
    with pytest.raises(DomainError) as exc:
        ask(owner_actor, tenant, reason=" ", pods=60)
    assert exc.value.field == "reason"


def test_one_pending_request_per_environment(tenant, owner_actor, operator_actor):
    first = ask(owner_actor, tenant, pods=60)
    with pytest.raises(Conflict) as exc:
        ask(owner_actor, tenant, pods=70)
    assert exc.value.field == "environment"
    ask(owner_actor, tenant, env="test", pods=70)  # another environment is fine
    qr.quota_request_reject(actor=operator_actor, request=first, comment="no")
    ask(owner_actor, tenant, pods=70)  # decided: a new one may follow
    assert QuotaRequest.objects.filter(state="pending").count() == 2


def test_approval_is_revalidated_against_the_quota_as_it_is_then(tenant, owner_actor, operator_actor):
    from tenants.services import quota_update

    request = ask(owner_actor, tenant, exclusive_cpuset_cores=4)  # fits the 4000 millicores of today
    quota_update(actor=operator_actor, quota=quota(tenant), cpu_millicores=2000)
    mark = audit_mark()
    with pytest.raises(DomainError) as exc:
        qr.quota_request_approve(actor=operator_actor, request=request)
    assert exc.value.field == "exclusive_cpuset_cores"
    # Nothing half-done: the request is still pending, the quota untouched, nothing recorded.
    assert QuotaRequest.objects.get(pk=request.pk).state == "pending"
    assert quota(tenant).exclusive_cpuset_cores == 0
    assert events_since(mark) == []


def test_approved_quota_makes_member_namespaces_due_like_any_quota_change(tenant, owner_actor, operator_actor):
    """The federation tick re-syncs a namespace whose quota changed after its last sync
    (clusters.federation.tasks.clusters_due): an approval must look exactly like that."""
    from clusters.federation.models import MemberNamespace
    from clusters.federation.tasks import clusters_due
    from clusters.models import Cell, Cluster, Region, Zone

    region = Region.objects.create(name="R", slug="r")
    cell = Cell.objects.create(zone=Zone.objects.create(region=region, name="Z", slug="z"), name="C", slug="c")
    cluster = Cluster.objects.create(cell=cell, name="k1", slug="k1")
    prod = tenant.environments.get(slug="prod")
    MemberNamespace.objects.create(cluster=cluster, environment=prod, name="acme-prod", applied_hash="x",
                                   synced_at=timezone.now())
    assert cluster not in clusters_due()
    request = ask(owner_actor, tenant, env="prod", cpu_millicores=6000)
    assert cluster not in clusters_due()  # a pending request changes nothing in the clusters
    qr.quota_request_approve(actor=operator_actor, request=request)
    assert cluster in clusters_due()


# --- API -------------------------------------------------------------------------

def test_api_request_then_operator_queue_and_approve(personas, login, tenant, other_tenant):
    owner, operator = login(personas["owner"]), login(personas["operator"])
    response = post(owner, f"{ACME}/quota-requests/", {"environment": "prod", "cpu_millicores": 16000,
                                                       "reason": "peak season"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["state"], body["environment"], body["cpu_millicores"], body["pods"]) == ("pending", "prod", 16000, 50)
    assert body["previous"]["cpu_millicores"] == 4000 and body["requested_by"] == "owner"
    # Another tenant's pending request: the operator's queue holds both, filterable.
    ask(Actor.for_user(personas["outsider"]), other_tenant, pods=99)
    assert {r["tenant"] for r in operator.get(f"{API}/quota-requests/?state=pending").json()["results"]} == {
        "acme", "globex"}
    assert [r["tenant"] for r in operator.get(f"{API}/quota-requests/?tenant=acme").json()["results"]] == ["acme"]
    # A member sees only their tenant's requests, there as at the tenant route.
    assert [r["tenant"] for r in owner.get(f"{API}/quota-requests/").json()["results"]] == ["acme"]
    assert [r["id"] for r in owner.get(f"{ACME}/quota-requests/").json()["results"]] == [body["id"]]

    response = post(operator, f"{API}/quota-requests/{body['id']}/approve/", {"comment": "granted"})
    assert response.status_code == 200 and response.json()["state"] == "approved"
    assert owner.get(f"{ACME}/quotas/prod/").json()["cpu_millicores"] == 16000
    assert owner.get(f"{ACME}/quota-requests/{body['id']}/").json()["comment"] == "granted"
    response = post(operator, f"{API}/quota-requests/{body['id']}/reject/", {"comment": "late"})
    assert response.status_code == 409


def test_api_validation_and_conflicts_name_the_field(personas, login, tenant):
    owner = login(personas["owner"])
    cases = [
        ({"environment": "nope", "pods": 60, "reason": "x"}, 400, "environment"),
        ({"environment": "dev", "pods": 60}, 400, "reason"),
        ({"environment": "dev", "pods": -5, "reason": "x"}, 400, "pods"),
        ({"environment": "dev", "exclusive_cpuset_cores": 9, "reason": "x"}, 400, "exclusive_cpuset_cores"),
    ]
    for body, status, field in cases:
        response = post(owner, f"{ACME}/quota-requests/", body)
        assert response.status_code == status, body
        assert field in response.json()["error"]["fields"], body
    assert post(owner, f"{ACME}/quota-requests/", {"environment": "dev", "pods": 60, "reason": "x"}).status_code == 201
    response = post(owner, f"{ACME}/quota-requests/", {"environment": "dev", "pods": 70, "reason": "x"})
    assert response.status_code == 409 and "environment" in response.json()["error"]["fields"]


def test_api_cancel_and_reject(personas, login, tenant):
    owner, operator = login(personas["owner"]), login(personas["operator"])
    first = post(owner, f"{ACME}/quota-requests/", {"environment": "dev", "pods": 60, "reason": "x"}).json()
    response = post(owner, f"{ACME}/quota-requests/{first['id']}/cancel/")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    second = post(owner, f"{ACME}/quota-requests/", {"environment": "dev", "pods": 60, "reason": "x"}).json()
    response = post(operator, f"{API}/quota-requests/{second['id']}/reject/", {})
    assert response.status_code == 400 and "comment" in response.json()["error"]["fields"]
    response = post(operator, f"{API}/quota-requests/{second['id']}/reject/", {"comment": "not now"})
    assert response.json()["state"] == "rejected"
    states = [r["state"] for r in owner.get(f"{ACME}/quota-requests/?ordering=created_at").json()["results"]]
    assert states == ["cancelled", "rejected"]


def test_api_tokens_never_decide_and_read_only_tokens_never_ask(personas, tenant, client):
    from django.test import Client

    request = ask(Actor.for_user(personas["owner"]), tenant, pods=60)
    _, write = make_token(personas["owner"], tenant, scope="write")
    bearer = Client(headers={"Authorization": f"Bearer {write}"})
    response = post(bearer, f"{API}/quota-requests/{request.pk}/approve/")
    assert response.status_code == 403  # an owner's token, and tokens carry no platform permission anyway
    assert post(bearer, f"{ACME}/quota-requests/{request.pk}/cancel/").status_code == 200


# --- pages -----------------------------------------------------------------------

def test_pages_request_history_and_operator_queue(personas, login, tenant):
    owner, operator = login(personas["owner"]), login(personas["operator"])
    response = owner.post("/tenants/acme/quotas/prod/request/", {
        "cpu_millicores": "12", "memory_mib": "8", "ephemeral_storage_mib": "20", "exclusive_cpuset_cores": "0",
        "pods": "50", "reason": "Launch of the new card product"})
    assert response.status_code == 302
    request = QuotaRequest.objects.get()
    assert request.cpu_millicores == 12000 and request.memory_mib == 8192
    page = owner.get("/tenants/acme/quotas/").content.decode()
    assert "Launch of the new card product" in page and "Pending" in page and "12 cores" in page
    assert "/tenants/-/quota-requests/" not in page  # the queue link is for operators

    queue = operator.get("/tenants/-/quota-requests/").content.decode()
    assert "Launch of the new card product" in queue and f"/tenants/-/quota-requests/{request.pk}/approve/" in queue
    response = operator.post(f"/tenants/-/quota-requests/{request.pk}/reject/", {"comment": ""}, follow=True)
    assert "Say why" in response.content.decode()
    assert QuotaRequest.objects.get().state == "pending"
    operator.post(f"/tenants/-/quota-requests/{request.pk}/approve/", {"comment": "Enjoy"})
    assert quota(tenant, "prod").cpu_millicores == 12000
    page = owner.get("/tenants/acme/quotas/").content.decode()
    assert "Approved" in page and "Enjoy" in page
    assert "Nothing to decide" in operator.get("/tenants/-/quota-requests/").content.decode()


def test_page_request_form_errors_and_cancel(personas, login, tenant):
    owner = login(personas["owner"])
    same = {"cpu_millicores": "4", "memory_mib": "8", "ephemeral_storage_mib": "20", "exclusive_cpuset_cores": "0",
            "pods": "50", "reason": "nothing"}
    response = owner.post("/tenants/acme/quotas/dev/request/", same)
    assert response.status_code == 200 and "current quota" in response.content.decode()
    owner.post("/tenants/acme/quotas/dev/request/", {**same, "pods": "60"})
    request = QuotaRequest.objects.get()
    assert "already asked for other limits here" in owner.get("/tenants/acme/quotas/dev/request/").content.decode()
    assert owner.post(f"/tenants/acme/quota-requests/{request.pk}/cancel/").status_code == 302
    assert QuotaRequest.objects.get().state == "cancelled"


# --- demo data -------------------------------------------------------------------

def test_demo_shows_one_pending_request_to_an_operator_who_may_decide_it(db):
    from django.contrib.auth import get_user_model

    from paas.demo import load_demo

    load_demo()
    load_demo()  # idempotent: still one request
    request = QuotaRequest.objects.get()
    assert (request.tenant.slug, request.environment.slug, request.state) == ("acme", "pre", "pending")
    operator = get_user_model().objects.get(username="operator")
    assert operator.has_perm("tenants.set_quota") and operator.has_perm("tenants.view_quotarequest")
    qr.quota_request_approve(actor=Actor.for_user(operator), request=request)
    load_demo()  # a decided request stays decided; no new one
    assert list(QuotaRequest.objects.values_list("state", flat=True)) == ["approved"]


def test_the_database_allows_one_pending_request_per_environment(tenant, owner_actor):
    """The constraint behind the service's check: two concurrent requests cannot both be pending."""
    from django.db import IntegrityError, transaction

    first = ask(owner_actor, tenant, pods=60)
    duplicate = QuotaRequest(tenant=tenant, environment=first.environment, reason="race", previous=first.previous,
                             **first.requested_values())
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    duplicate.state = QuotaRequest.State.CANCELLED
    duplicate.save()  # only pending ones are limited


def test_migration_turns_manage_quotas_grants_into_request_quota(personas, tenant):
    """Existing owners and admins held manage_quotas on their tenant; after the migration
    they hold request_quota instead and nobody holds a tenant grant to set quotas.

    The data step is called directly: migrating the schema back and forth needs the table
    owner, and the suite runs as the application's role (see tests/conftest.py)."""
    import importlib

    from django.apps import apps
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from guardian.shortcuts import assign_perm, get_perms

    migration = importlib.import_module("tenants.migrations.0002_quota_requests")
    ct = ContentType.objects.get(app_label="tenants", model="tenant")
    Permission.objects.filter(content_type=ct, codename__in=["request_quota", "manage_quotas"]).delete()
    old = Permission.objects.create(content_type=ct, codename="manage_quotas", name="Set quotas per environment")
    assign_perm("tenants.manage_quotas", personas["owner"], tenant)
    migration.rename_manage_quotas(apps, None)
    old.refresh_from_db()
    assert old.codename == "request_quota"  # same row: every guardian grant on it carries over
    assert not Permission.objects.filter(codename="manage_quotas").exists()
    assert "request_quota" in get_perms(personas["owner"], tenant)


def test_the_operators_queue_is_the_only_active_sidebar_entry(personas, login):
    import re

    page = login(personas["operator"]).get("/tenants/-/quota-requests/").content.decode()
    active = re.findall(r'class="sidebar-link active"[^>]*>.*?</i>([^<]+)</a>', page)
    assert active == ["Quota requests"]
    tenants_page = login(personas["operator"]).get("/tenants/").content.decode()
    assert re.findall(r'class="sidebar-link active"[^>]*>.*?</i>([^<]+)</a>', tenants_page) == ["Tenants"]
