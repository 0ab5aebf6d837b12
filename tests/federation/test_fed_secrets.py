"""Sensitive values on every read path: detail and list (page and API), edit form, preview
and diff, audit, live events, error messages, member-cluster errors and log lines; and the
operators' sensitive paths on a type (API, types page, admin)."""
import json
import logging

import pytest
from django.contrib.auth.models import Permission
from kubernetes.client import ApiException
from rest_framework.test import APIClient

from clusters.federation import kubeio, services, validation
from clusters.federation.models import FederatedResource, FederatedType, Propagation
from paas.audit.models import AuditEvent
from paas.errors import DomainError
from paas.realtime import emit
from tenants.models import ApiToken

from ..factories import make_token
from .conftest import SYSTEM, converge, deployment, sync_all
from .test_fed_secrets_attack import BASE, FORBIDDEN, OVERRIDES, SHOWN, TEMPLATE, b64

ENV_PATH = "spec.template.spec.containers[*].env[*].value"
ENV_SECRET, ENV_OVERRIDDEN = "Env-Secret-Value-1234", "Env-Override-Value-5678"
ALL_FORBIDDEN = [*FORBIDDEN, ENV_SECRET, b64(ENV_SECRET), ENV_OVERRIDDEN, b64(ENV_OVERRIDDEN)]


def clean(body, where=""):
    text = body.decode() if isinstance(body, bytes) else str(body)
    for value in ALL_FORBIDDEN:
        assert value not in text, f"{where}: a sensitive value leaked"


def api(user=None, token=None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    else:
        client.force_authenticate(user)
    return client


def operator_with_type_perms(personas):
    operator = personas["operator"]
    operator.user_permissions.add(*Permission.objects.filter(content_type__app_label="federation",
                                                             codename__endswith="_federatedtype"))
    return operator


def app_template() -> dict:
    template = deployment("app")
    template["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "DB_PASSWORD", "value": ENV_SECRET}, {"name": "MODE", "value": "prod"}]
    return template


APP_OVERRIDES = [{"clusters": ["fed-a1"], "operations": [
    {"op": "replace", "path": "/spec/template/spec/containers/0/env/0/value", "value": ENV_OVERRIDDEN}]}]


@pytest.fixture
def secret(topology, ftypes):
    return services.federated_resource_create(actor=SYSTEM, environment=topology["prod"], ftype=ftypes["Secret"],
                                              name="db", template=TEMPLATE, overrides=OVERRIDES)


@pytest.fixture
def app(personas, topology, ftypes):
    """A Deployment whose env values an operator marked sensitive (through the API)."""
    response = api(operator_with_type_perms(personas)).patch(
        f"/api/v1/federated-types/{ftypes['Deployment'].pk}/", {"sensitive_paths": [ENV_PATH]}, format="json")
    assert response.status_code == 200 and response.json()["sensitive_paths"] == [ENV_PATH]
    return services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                              ftype=FederatedType.objects.get(kind="Deployment"), name="app",
                                              template=app_template(), overrides=APP_OVERRIDES)


# --- detail, list, edit form ------------------------------------------------------------------

@pytest.mark.parametrize("who", ["viewer", "auditor", "developer", "admin"])
def test_detail_list_and_form_mask_secret_data_and_marked_fields(personas, login, secret, app, who):
    client = api(personas[who])
    listed = client.get(BASE)
    assert listed.status_code == 200 and len(listed.json()["results"]) == 2
    clean(listed.content, "API list")
    for resource in (secret, app):
        detail = client.get(f"{BASE}{resource.pk}/")
        clean(detail.content, "API detail")
        clean(client.get(f"{BASE}{resource.pk}/status/").content, "API status")
    shown = client.get(f"{BASE}{app.pk}/").json()
    assert shown["template"]["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "DB_PASSWORD", "value": "***"}, {"name": "MODE", "value": "***"}]
    assert shown["overrides"][0]["operations"][0]["value"] == "***"
    page = login(personas[who])
    for url in ("/federation/acme/prod/", f"/federation/acme/prod/{secret.pk}/", f"/federation/acme/prod/{app.pk}/",
                f"/federation/acme/prod/{app.pk}/edit/", f"/federation/acme/prod/{secret.pk}/edit/"):
        response = page.get(url)
        assert response.status_code in (200, 403), url
        clean(response.content, url)
    assert "DB_PASSWORD" in page.get(f"/federation/acme/prod/{app.pk}/").content.decode()


# --- preview and diff ---------------------------------------------------------------------------

ENV_VARIANTS = {
    "env list reordered": ({"template": {**app_template(), "spec": {**app_template()["spec"], "template": {
        "metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{
            **app_template()["spec"]["template"]["spec"]["containers"][0],
            "env": [{"name": "MODE", "value": "***"}, {"name": "DB_PASSWORD", "value": "***"}]}]}}}}},
        "template.spec.template.spec.containers[0].env[0].value"),
    "*** into container args": ({"template": {**app_template(), "spec": {**app_template()["spec"], "template": {
        "metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{
            **app_template()["spec"]["template"]["spec"]["containers"][0], "args": ["***"]}]}}}}},
        "template.spec.template.spec.containers[0].args[0]"),
    "override: same position, a label": ({"overrides": [{"clusters": ["fed-a1"], "operations": [
        {"op": "add", "path": "/spec/template/metadata/labels/leak", "value": "***"}]}]},
        "overrides[0].operations[0].value"),
}


def test_preview_and_diff_mask_live_and_desired_values(personas, secret, app):
    converge()
    developer = api(personas["developer"])
    for resource in (secret, app):
        entries = developer.get(f"{BASE}{resource.pk}/preview/")
        assert entries.status_code == 200 and len(entries.json()) == 3
        clean(entries.content, "preview of what is applied")
    assert {e["action"] for e in developer.get(f"{BASE}{app.pk}/preview/").json()} == {"unchanged"}
    # A new secret value: the diff and the rendered object show neither the old nor the new value.
    changed = developer.post(f"{BASE}{secret.pk}/preview/", {"template": {**SHOWN, "data": {
        "password": b64("Brand-New-Secret-0000")}}}, format="json")
    assert changed.status_code == 200 and "password: '***'" in changed.json()[0]["rendered"]
    clean(changed.content, "diff")
    assert b64("Brand-New-Secret-0000") not in changed.content.decode()
    for name, (body, field) in ENV_VARIANTS.items():
        for who, expected in (("developer", 400), ("viewer", 403)):
            response = api(personas[who]).post(f"{BASE}{app.pk}/preview/", body, format="json")
            clean(response.content, f"{who} / {name}")
            assert response.status_code == expected, (who, name, response.content[:300])
            if expected == 400:
                assert field in response.json()["error"]["fields"], name
    round_trip = developer.get(f"{BASE}{app.pk}/").json()
    kept = developer.post(f"{BASE}{app.pk}/preview/", {"template": round_trip["template"],
                                                       "overrides": round_trip["overrides"]}, format="json")
    assert kept.status_code == 200
    changed_lines = [line for e in kept.json() for line in e["diff"].splitlines()
                     if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed_lines and all("paas.io/generation" in line for line in changed_lines)  # values kept
    clean(kept.content, "round trip")


@pytest.mark.parametrize("who", ["viewer", "auditor", "read-only token"])
def test_preview_needs_the_change_permission(personas, login, secret, who):
    if who == "read-only token":
        _row, token = make_token(personas["developer"], secret.tenant, scope=ApiToken.Scope.READ)
        client = api(token=token)
    else:
        client = api(personas[who])
        page = login(personas[who])
        assert page.get(f"/federation/acme/prod/{secret.pk}/preview/").status_code == 403
        assert page.post(f"/federation/acme/prod/{secret.pk}/preview/", {"template": "x: ["}).status_code == 403
        assert "/preview/" not in page.get(f"/federation/acme/prod/{secret.pk}/").content.decode()
    for method in ("get", "post"):
        response = getattr(client, method)(f"{BASE}{secret.pk}/preview/", {"placement": "not: [valid"},
                                           format="json")
        assert response.status_code == 403, method
        assert response.json()["error"]["code"] == "permission_denied"
    assert AuditEvent.objects.filter(action="federation.resource.preview", outcome="denied").exists()


# --- audit ---------------------------------------------------------------------------------------

def test_audit_records_mask_values_and_name_changed_secrets(personas, secret, app):
    developer = api(personas["developer"])
    new = b64("Brand-New-Secret-0000")
    response = developer.patch(f"{BASE}{secret.pk}/", {"template": {**SHOWN, "data": {"password": new}}},
                               format="json")
    assert response.status_code == 200
    assert FederatedResource.objects.get(pk=secret.pk).template["data"]["password"] == new
    events = AuditEvent.objects.filter(action__startswith="federation.resource")
    assert events.count() == 3
    for event in events:
        clean(json.dumps(event.changes), event.action)
        assert new not in json.dumps(event.changes)
    update = events.get(action="federation.resource.update")
    assert update.changes["after"]["sensitive_changed"] == ["template.data.password"]
    trail = api(personas["auditor"]).get("/api/v1/audit-events/")
    assert trail.status_code == 200
    clean(trail.content, "audit API")
    assert new not in trail.content.decode()


# --- live events -----------------------------------------------------------------------------------

def test_live_event_payloads_carry_no_values(personas, topology, ftypes, monkeypatch):
    sent = []
    monkeypatch.setattr(emit, "to_group", lambda group, payload, **kw: sent.append(payload))
    resource = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                                  ftype=ftypes["Secret"], name="db", template=TEMPLATE,
                                                  overrides=OVERRIDES)
    api(personas["developer"]).patch(f"{BASE}{resource.pk}/", {"template": {**SHOWN, "data": {
        "password": b64("Brand-New-Secret-0000")}}}, format="json")
    sync_all()
    assert {p["type"] for p in sent} >= {"federation.resource.created", "federation.resource.updated",
                                         "federation.synced"}
    clean(json.dumps(sent, default=str), "events")


# --- error messages, member-cluster errors, log lines --------------------------------------------

def test_a_validation_message_quoting_a_value_is_scrubbed(personas, secret, monkeypatch):
    original = validation.validate_template

    def quoting(ftype, name, template):  # a validator that quotes what it refuses
        value = (template.get("data") or {}).get("password")
        if value:
            raise DomainError(f"template.data.password: {value!r} is not allowed", field="template.data.password")
        return original(ftype, name, template)

    monkeypatch.setattr(validation, "validate_template", quoting)
    for verb, url in (("patch", f"{BASE}{secret.pk}/"), ("post", f"{BASE}{secret.pk}/preview/")):
        response = getattr(api(personas["developer"]), verb)(url, {"template": SHOWN}, format="json")
        assert response.status_code == 400 and "is not allowed" in response.content.decode()
        clean(response.content, verb)


def _failing_apply(monkeypatch, make_error):
    original = kubeio.apply

    def apply(client, path, obj, **kwargs):
        if obj.get("kind") in ("Secret", "Deployment"):
            raise make_error(obj)
        return original(client, path, obj, **kwargs)

    monkeypatch.setattr(kubeio, "apply", apply)


def test_member_cluster_errors_quoting_the_object_are_scrubbed(personas, login, secret, app, monkeypatch):
    def refused(obj):  # an API server quotes the values it refuses, as Kubernetes does
        error = ApiException(status=422, reason="Unprocessable Entity")
        error.body = json.dumps({"message": f"{obj['kind']} is invalid: Invalid value: {json.dumps(obj)}"})
        return error

    _failing_apply(monkeypatch, refused)
    sync_all()
    rows = Propagation.objects.filter(resource__in=[secret, app])
    assert rows.count() == 6 and all(r.state == "error" and r.error.startswith("422") for r in rows)
    for row in rows:
        clean(row.error, row.cluster.slug)
        assert "Invalid value" in row.error
    for resource in (secret, app):
        clean(json.dumps(FederatedResource.objects.get(pk=resource.pk).status), "aggregated status")
        clean(api(personas["viewer"]).get(f"{BASE}{resource.pk}/").content, "API detail")
        clean(login(personas["viewer"]).get(f"/federation/acme/prod/{resource.pk}/status/").content, "status page")


def test_unexpected_sync_failures_log_no_values(secret, app, monkeypatch, caplog):
    _failing_apply(monkeypatch, lambda obj: RuntimeError(f"cannot send {json.dumps(obj)}"))
    with caplog.at_level(logging.ERROR, logger="clusters.federation.sync"):
        sync_all()
    assert "cannot send" in caplog.text and "Traceback" in caplog.text
    clean(caplog.text, "log")
    for row in Propagation.objects.filter(resource__in=[secret, app]):
        assert row.state == "error" and "RuntimeError" in row.error
        clean(row.error, "row error")


# --- operators mark sensitive paths ----------------------------------------------------------------

def test_sensitive_paths_api_permissions_validation_and_audit(personas, ftypes):
    url = f"/api/v1/federated-types/{ftypes['ConfigMap'].pk}/"
    assert api(personas["developer"]).patch(url, {"sensitive_paths": ["data.*"]}, format="json").status_code == 403
    _row, token = make_token(personas["admin"], personas["admin"].memberships.get().tenant)
    assert api(token=token).patch(url, {"sensitive_paths": ["data.*"]}, format="json").status_code == 403
    operator = api(operator_with_type_perms(personas))
    bad = operator.patch(url, {"sensitive_paths": ["data.*", "spec.containers[0].env"]}, format="json")
    assert bad.status_code == 400 and "sensitive_paths[1]" in bad.json()["error"]["fields"]
    assert operator.patch(url, {}, format="json").status_code == 400
    ok = operator.patch(url, {"sensitive_paths": ["data.*", "data.*"]}, format="json")
    assert ok.status_code == 200 and ok.json()["sensitive_paths"] == ["data.*"]
    event = AuditEvent.objects.get(action="federation.type.update", outcome="success")
    assert event.changes["after"] == {"sensitive_paths": ["data.*"]}
    assert api(personas["viewer"]).get(url).json()["sensitive_paths"] == ["data.*"]


def test_marked_configmap_values_are_masked(personas, topology, ftypes):
    services.federated_type_set_sensitive_paths(actor=SYSTEM, ftype=ftypes["ConfigMap"], paths=["data.api-key"])
    template = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
                "data": {"api-key": ENV_SECRET, "mode": "prod"}}
    resource = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                                  ftype=FederatedType.objects.get(kind="ConfigMap"), name="cfg",
                                                  template=template)
    shown = api(personas["viewer"]).get(f"{BASE}{resource.pk}/").json()["template"]
    assert shown["data"] == {"api-key": "***", "mode": "prod"}


def test_types_page_and_admin_edit_sensitive_paths(personas, login, ftypes):
    configmap = ftypes["ConfigMap"]
    url = f"/federation/-/types/{configmap.pk}/sensitive/"
    assert login(personas["developer"]).post(url, {"sensitive_paths": "data.*"}).status_code == 403
    operator = login(operator_with_type_perms(personas))
    assert 'name="sensitive_paths"' in operator.get("/federation/-/types/").content.decode()
    assert operator.post(url, {"sensitive_paths": "data.*\n\nspec.x[*].y\n"}).status_code == 302
    assert FederatedType.objects.get(pk=configmap.pk).sensitive_paths == ["data.*", "spec.x[*].y"]
    operator.post(url, {"sensitive_paths": "data.0"})
    assert FederatedType.objects.get(pk=configmap.pk).sensitive_paths == ["data.*", "spec.x[*].y"]
    admin_url = f"/admin/federation/federatedtype/{configmap.pk}/change/"
    assert operator.get(admin_url).status_code == 200
    refused = operator.post(admin_url, {"sensitive_paths": '["a..b"]'})
    assert refused.status_code == 200 and "sensitive_paths" in refused.content.decode()
    assert operator.post(admin_url, {"sensitive_paths": '["data.token"]'}).status_code == 302
    assert FederatedType.objects.get(pk=configmap.pk).sensitive_paths == ["data.token"]
    assert AuditEvent.objects.filter(action="federation.type.update", outcome="success").count() == 2
    assert login(personas["developer"]).get(admin_url).status_code in (302, 403)
