"""The cluster registry API: permission matrix (operators change things; tenant
members and their tokens read what their environments are bound to; 403 on every
operator action), registration with a write-only kubeconfig, and no credential in
any response, audit row or log line."""
import json
import logging

import pytest
from django.test import Client

from clusters.models import Cluster, EnvironmentBinding, PlatformSwitch
from paas.audit.models import AuditEvent
from tests.factories import make_token

from .conftest import kubeconfig_text, set_faults, sim_token

pytestmark = pytest.mark.django_db

PERSONAS = ["owner", "developer", "viewer", "outsider", "operator", "token"]

ACTIONS = {
    "list regions": ("get", "regions/", None),
    "list zones": ("get", "zones/", None),
    "list cells": ("get", "cells/", None),
    "list clusters": ("get", "clusters/", None),
    "get cluster": ("get", "clusters/reg-a/", None),
    "get acme cell": ("get", "cells/east-1a/", None),
    "get globex cell": ("get", "cells/east-1b/", None),
    "get switch": ("get", "platform-switch/", None),
    "list bindings": ("get", "environment-bindings/", None),
    "register": ("post", "clusters/", {"slug": "reg-b", "name": "Reg B", "cell": "east-1b", "kubeconfig": "{reg_b}"}),
    "patch cluster": ("patch", "clusters/reg-a/", {"weight": 5, "labels": {"tier": "gold"}}),
    "cordon": ("post", "clusters/reg-a/cordon/", {"reason": "drill"}),
    "uncordon": ("post", "clusters/reg-a/uncordon/", {}),
    "pause": ("post", "clusters/reg-a/pause/", {}),
    "resume": ("post", "clusters/reg-a/resume/", {}),
    "check": ("post", "clusters/reg-a/check/", None),
    "credentials": ("post", "clusters/reg-a/credentials/", {"kubeconfig": "{reg_a}"}),
    "remove": ("delete", "clusters/reg-a/", None),
    "create region": ("post", "regions/", {"slug": "west", "name": "West"}),
    "patch region": ("patch", "regions/east/", {"description": "x"}),
    "create zone": ("post", "zones/", {"slug": "east-2", "name": "E2", "region": "east"}),
    "zone fail": ("post", "zones/east-1/mark-failed/", {"reason": "drill"}),
    "zone recover": ("post", "zones/east-1/recover/", {}),
    "create cell": ("post", "cells/", {"slug": "east-1c", "name": "C", "zone": "east-1"}),
    "cell fail": ("post", "cells/east-1a/mark-failed/", {}),
    "cell recover": ("post", "cells/east-1a/recover/", {}),
    "delete cell": ("delete", "cells/east-1b/", None),
    "patch zone": ("patch", "zones/east-1/", {"labels": {"idc": "1"}}),
    "patch cell": ("patch", "cells/east-1a/", {"name": "Renamed"}),
    "delete region": ("delete", "regions/east/", None),
    "delete zone": ("delete", "zones/east-1/", None),
    "stop all": ("post", "platform-switch/", {"propagation_paused": True, "reason": "incident"}),
    "bind": ("post", "environment-bindings/", {"tenant": "acme", "environment": "dev", "cluster": "reg-a"}),
    "unbind": ("delete", "environment-bindings/{binding}/", None),
}

ACME_READ = (200, 200, 200, 404, 200, 200)
OPERATOR = {"get": 200, "post": 200, "patch": 200, "delete": 204}

EXPECTED = {
    #                  owner dev  view  outs  oper  token
    "get cluster":     ACME_READ,
    "get acme cell":   ACME_READ,
    "get globex cell": (404, 404, 404, 200, 200, 404),
    "delete region":   (403, 403, 403, 403, 409, 403),  # not empty: refused with a clear 409
    "delete zone":     (403, 403, 403, 403, 409, 403),
}
CREATED = {"register", "create region", "create zone", "create cell", "bind"}


def expected(action, persona):
    method = ACTIONS[action][0]
    if action in EXPECTED:
        return EXPECTED[action][PERSONAS.index(persona)]
    if method == "get":
        return 200
    if persona != "operator":
        return 403
    return 201 if action in CREATED else OPERATOR[method]


@pytest.fixture
def world(personas, bound, tenant, kubesim):
    _token, plaintext = make_token(personas["owner"], tenant, name="ci")
    return {"token": plaintext, "binding": str(EnvironmentBinding.objects.get(environment__tenant=tenant).pk),
            "reg_a": kubeconfig_text(kubesim, "reg-a"), "reg_b": kubeconfig_text(kubesim, "reg-b")}


def api_client(persona, personas, login, world):
    if persona == "token":
        return Client(headers={"Authorization": f"Bearer {world['token']}"})
    return login(personas[persona])


def call(client, method, path, body):
    if body is None:
        return getattr(client, method)(f"/api/v1/{path}")
    return getattr(client, method)(f"/api/v1/{path}", json.dumps(body), content_type="application/json")


def fill(value, world):
    if isinstance(value, str):
        return value.format(**world) if value.startswith("{") and value.endswith("}") else value
    if isinstance(value, dict):
        return {k: fill(v, world) for k, v in value.items()}
    return value


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_api_matrix(action, persona, world, personas, login, kubesim):
    method, path, body = ACTIONS[action]
    response = call(api_client(persona, personas, login, world), method, path.format(**world), fill(body, world))
    assert response.status_code == expected(action, persona), (action, persona, response.content[:300])
    for name in ("reg-a", "reg-b"):
        assert sim_token(kubesim, name).encode() not in response.content


def test_reads_are_scoped(world, personas, login):
    viewer = login(personas["viewer"])
    assert [c["slug"] for c in viewer.get("/api/v1/clusters/").json()["results"]] == ["reg-a"]
    assert [c["slug"] for c in viewer.get("/api/v1/cells/").json()["results"]] == ["east-1a"]
    outsider = login(personas["outsider"])
    assert outsider.get("/api/v1/clusters/").json()["results"] == []
    assert [c["slug"] for c in outsider.get("/api/v1/cells/").json()["results"]] == ["east-1b"]
    assert [b["tenant"] for b in outsider.get("/api/v1/environment-bindings/").json()["results"]] == ["globex"]
    operator = login(personas["operator"])
    assert len(operator.get("/api/v1/cells/").json()["results"]) == 2
    assert operator.get("/api/v1/environment-bindings/?tenant=acme").json()["count"] == 1


def test_register_returns_no_credentials_and_refuses_bad_input(world, personas, login, kubesim):
    client = login(personas["operator"])
    body = {"slug": "reg-b", "name": "Reg B", "cell": "east-1a", "kubeconfig": world["reg_b"],
            "labels": {"env-tier": "prod"}}
    response = call(client, "post", "clusters/", body)
    assert response.status_code == 201
    data = response.json()
    assert "kubeconfig" not in data and "credentials" not in data and data["health"] == "unknown"
    assert data["kube_version"].startswith("v1.") and data["region"] == "east"
    bad = call(client, "post", "clusters/", {**body, "slug": "bad", "kubeconfig": "kind: Pod"})
    assert bad.status_code == 400 and "expected kind: Config" in bad.json()["error"]["fields"]["kubeconfig"][0]
    dup = call(client, "post", "clusters/", {**body, "slug": "reg-b2"})
    assert dup.status_code == 409
    set_faults(kubesim, "reg-c", down=True)
    try:
        down = call(client, "post", "clusters/", {**body, "slug": "reg-c", "kubeconfig": kubeconfig_text(kubesim, "reg-c")})
    finally:
        set_faults(kubesim, "reg-c", down=False)
    assert down.status_code == 400 and "cannot be reached" in down.json()["error"]["message"]


def test_actions_and_switch(world, personas, login, federation):
    client = login(personas["operator"])
    assert call(client, "post", "clusters/reg-a/cordon/", {"reason": "x"}).json()["schedulable"] is False
    assert call(client, "post", "cells/east-1a/mark-failed/", {}).json()["failed"] is True
    stop = call(client, "post", "platform-switch/", {"propagation_paused": True})
    assert stop.status_code == 400 and stop.json()["error"]["fields"]["reason"]
    assert call(client, "post", "platform-switch/", {"propagation_paused": True, "reason": "r"}).status_code == 200
    assert login(personas["viewer"]).get("/api/v1/platform-switch/").json()["propagation_paused"] is True
    call(client, "post", "platform-switch/", {"propagation_paused": False})
    assert not PlatformSwitch.get().propagation_paused
    assert federation.names()[-1] == "cluster_switch_changed"


def test_denied_operator_actions_are_audited(world, personas, login):
    response = call(api_client("token", personas, login, world), "post", "clusters/reg-a/cordon/", {})
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="cluster.cordon", outcome="denied", actor_type="token").exists()
    assert not Cluster.objects.get(slug="reg-a").cordoned


def test_credentials_never_leak(world, personas, login, kubesim, caplog):
    caplog.set_level(logging.DEBUG)
    client = login(personas["operator"])
    call(client, "post", "clusters/", {"slug": "reg-b", "name": "Reg B", "cell": "east-1a",
                                       "kubeconfig": world["reg_b"]})
    call(client, "post", "clusters/reg-b/credentials/", {"kubeconfig": world["reg_b"] + "\n# rotated\n"})
    call(client, "post", "clusters/", {"slug": "bad", "name": "Bad", "cell": "east-1a",
                                       "kubeconfig": world["reg_b"].replace("kind: Config", "kind: X")})
    client.post("/clusters/-/register/", {"cell": "east-1a", "name": "C", "slug": "reg-c", "weight": "1",
                                          "kubeconfig": kubeconfig_text(kubesim, "reg-c")})
    call(client, "post", "clusters/reg-b/check/", None)
    seen = [call(client, "get", p, None).content for p in ("clusters/", "clusters/reg-b/", "clusters/reg-c/")]
    seen += [client.get(u).content for u in ("/clusters/", "/clusters/reg-b/", "/clusters/reg-c/",
                                             "/clusters/reg-b/edit/", "/clusters/reg-b/credentials/",
                                             "/admin/clusters/cluster/", f"/admin/clusters/cluster/"
                                             f"{Cluster.objects.get(slug='reg-b').pk}/change/")]
    audit = json.dumps(list(AuditEvent.objects.values("changes", "reason", "target_label")), default=str)
    for name in ("reg-b", "reg-c"):
        token = sim_token(kubesim, name)
        assert all(token.encode() not in content for content in seen)
        assert token not in audit
        assert token not in caplog.text
