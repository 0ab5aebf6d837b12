"""The built-in registry's own rules, over real HTTP against daphne: the token flow, read and
write tokens, tenants invisible to each other, the platform/ namespace, audit of pushes."""
import base64
import subprocess

import pytest

from applications.registry.auth import issue_token
from paas.actors import Actor
from paas.audit.models import AuditEvent
from tenants.models import ApiToken
from tenants.services import token_revoke

from . import images
from .client import Client, error_codes, parse_challenge

pytestmark = [pytest.mark.registry_server, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(builtin_server):
    return builtin_server[0]


def basic(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def pushed(server, acme, name: str, tag: str = "v1") -> images.Image:
    img = images.image([{"f": name.encode()}], label=name)
    response = Client(server, "dev", acme["write"]).push_image(name, img, tag)
    assert response.status_code == 201, response.text
    return img


def test_anonymous_gets_the_bearer_challenge(server):
    client = Client(server)
    response = client.get("/v2/")
    assert response.status_code == 401
    challenge = parse_challenge(response.headers["WWW-Authenticate"])
    host = server.split("://", 1)[1]
    assert challenge == {"scheme": "bearer", "realm": f"{server}/v2/token", "service": host}
    assert error_codes(response) == ["UNAUTHORIZED"]
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_token_endpoint(server, acme):
    client = Client(server)
    anonymous = client.session.get(f"{server}/v2/token", params={"scope": "repository:acme/x:pull"})
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 300
    # The anonymous token grants nothing: still the challenge.
    response = client.session.get(f"{server}/v2/acme/x/tags/list",
                                  headers={"Authorization": f"Bearer {body['token']}"})
    assert response.status_code == 401

    wrong = client.session.get(f"{server}/v2/token", headers=basic("dev", "paas_nope_nope"))
    assert wrong.status_code == 401
    not_the_owner = client.session.get(f"{server}/v2/token", headers=basic("viewer", acme["write"]))
    assert not_the_owner.status_code == 401
    right = client.session.get(f"{server}/v2/token", headers=basic("dev", acme["write"]))
    assert right.status_code == 200
    assert client.session.get(f"{server}/v2/", headers={"Authorization": f"Bearer {right.json()['token']}"}
                              ).status_code == 200
    # containerd's OAuth2 password grant.
    oauth = client.session.post(f"{server}/v2/token", data={
        "grant_type": "password", "username": "dev", "password": acme["write"], "service": "x",
        "scope": "repository:acme/x:pull,push", "client_id": "containerd"})
    assert oauth.status_code == 200 and oauth.json()["access_token"]
    refresh = client.session.post(f"{server}/v2/token", data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert refresh.status_code == 400 and refresh.json() == {"error": "unsupported_grant_type"}


def test_read_token_pulls_but_cannot_push(server, acme, tmp_path):
    img = pushed(server, acme, "acme/app")
    reader = Client(server, "dev", acme["read"])
    assert reader.get("/v2/acme/app/manifests/v1").content == img.manifest
    refused = reader.push_blob("acme/app", b"new layer")
    assert refused.status_code == 403
    assert error_codes(refused) == ["DENIED"]
    assert "WWW-Authenticate" not in refused.headers  # nothing more to ask for
    assert reader.delete(f"/v2/acme/app/manifests/{img.digest}").status_code == 403
    denied = AuditEvent.objects.filter(action="registry.push", outcome="denied").first()
    assert denied is not None and denied.tenant_slug == "acme"

    layout = tmp_path / "layout"
    images.write_oci_layout(layout, images.image([{"g": b"x"}]), "1")
    result = subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", f"dev:{acme['read']}",
                             f"oci:{layout}:1", f"docker://{server.split('://')[1]}/acme/app:2"],
                            capture_output=True, text=True, timeout=60, env={"HOME": str(tmp_path),
                                                                            "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "denied" in result.stderr.lower()


def test_a_viewer_cannot_push_with_a_write_token(server, acme):
    response = Client(server, "viewer", acme["viewer_token"]).push_blob("acme/app", b"x")
    assert response.status_code == 403 and error_codes(response) == ["DENIED"]


def test_another_tenant_sees_nothing(server, acme):
    img = pushed(server, acme, "acme/secret")
    rival = Client(server, "rival", acme["rival_token"])
    existing = rival.get("/v2/acme/secret/manifests/v1")
    missing = rival.get("/v2/acme/nothing-here/manifests/v1")
    assert existing.status_code == missing.status_code == 404
    assert error_codes(existing) == error_codes(missing) == ["NAME_UNKNOWN"]
    assert existing.json()["errors"][0]["detail"] == {"name": "acme/secret"}
    assert rival.get(f"/v2/acme/secret/blobs/{next(iter(img.blobs))}").status_code == 404
    assert rival.get("/v2/acme/secret/tags/list").status_code == 404
    assert rival.push_blob("acme/secret", b"intruder").status_code == 404
    # Knowing the digest is not enough: the blob is not readable in the rival's own repository,
    # and mounting it from acme falls back to an ordinary upload.
    assert rival.push_blob("globex/mine", b"own").status_code == 201
    layer = next(iter(img.blobs))
    assert rival.get(f"/v2/globex/mine/blobs/{layer}").status_code == 404
    mount = rival.post(f"/v2/globex/mine/blobs/uploads/?mount={layer}&from=acme/secret",
                       extra_scopes=("repository:acme/secret:pull",))
    assert mount.status_code == 202
    assert rival.get(f"/v2/globex/mine/blobs/{layer}").status_code == 404

    # Anonymous callers: a challenge for an existing repository and a missing one alike.
    anonymous = Client(server)
    a = anonymous.session.get(f"{server}/v2/acme/secret/manifests/v1")
    b = anonymous.session.get(f"{server}/v2/acme/nothing-here/manifests/v1")
    assert a.status_code == b.status_code == 401
    assert a.content == b.content
    assert a.headers["WWW-Authenticate"].replace("secret", "X") == b.headers["WWW-Authenticate"].replace(
        "nothing-here", "X")


def test_platform_namespace(server, acme):
    base = images.image([{"jre": b"java"}], label="jre")
    system = issue_token(user=None, tenant=None, scopes=["repository:platform/jre:pull,push"])
    platform = Client(server)
    for data in base.blobs.values():
        response = platform.post(f"/v2/platform/jre/blobs/uploads/?digest={images.digest_of(data)}", data=data,
                                 headers={"Authorization": f"Bearer {system}"})
        assert response.status_code == 201
    assert platform.put("/v2/platform/jre/manifests/17", data=base.manifest, headers={
        "Authorization": f"Bearer {system}", "Content-Type": base.media_type}).status_code == 201
    # Every signed-in caller pulls; tenant tokens never push there.
    for user, secret in (("dev", acme["read"]), ("rival", acme["rival_token"])):
        assert Client(server, user, secret).get("/v2/platform/jre/manifests/17").content == base.manifest
    refused = Client(server, "dev", acme["write"]).push_blob("platform/jre", b"not mine")
    assert refused.status_code == 403 and error_codes(refused) == ["DENIED"]
    assert Client(server).get("/v2/platform/jre/manifests/17").status_code == 401


def test_catalog_lists_what_the_caller_may_see(server, acme):
    pushed(server, acme, "acme/one")
    assert Client(server, "rival", acme["rival_token"]).push_blob("globex/two", b"g").status_code == 201
    dev = Client(server, "dev", acme["read"]).get("/v2/_catalog").json()["repositories"]
    rival = Client(server, "rival", acme["rival_token"]).get("/v2/_catalog").json()["repositories"]
    assert "acme/one" in dev and "globex/two" not in dev
    assert "globex/two" in rival and "acme/one" not in rival
    assert Client(server).get("/v2/_catalog").status_code == 401


def test_a_revoked_token_stops_at_once(server, acme):
    client = Client(server, "dev", acme["write"])
    pushed(server, acme, "acme/rev")
    assert client.get("/v2/acme/rev/tags/list").status_code == 200  # holds a bearer token now
    token = ApiToken.objects.get(name="ci")
    token_revoke(actor=Actor.for_user(acme["dev"]), token=token)
    assert client.get("/v2/acme/rev/tags/list").status_code == 401


def test_issue_token_for_the_platform_processes(server, acme):
    pushed(server, acme, "acme/built")
    bearer = issue_token(user=acme["dev"], tenant=acme["tenant"], scopes=["repository:acme/built:pull"])
    client = Client(server)
    headers = {"Authorization": f"Bearer {bearer}"}
    assert client.session.get(f"{server}/v2/acme/built/tags/list", headers=headers).json()["tags"] == ["v1"]
    # Only what was asked for, and only what the user may: no push, nothing of globex.
    assert client.session.post(f"{server}/v2/acme/built/blobs/uploads/", headers=headers).status_code == 403
    viewer = issue_token(user=acme["viewer"], tenant=acme["tenant"], scopes=["repository:acme/built:pull,push"])
    assert client.session.post(f"{server}/v2/acme/built/blobs/uploads/",
                               headers={"Authorization": f"Bearer {viewer}"}).status_code == 403


def test_pushes_and_deletes_are_audited(server, acme):
    img = pushed(server, acme, "acme/audited", "v1")
    event = AuditEvent.objects.get(action="registry.manifest.push")
    after = event.changes["after"]
    assert after["repository"] == "acme/audited" and after["tag"] == "v1" and after["digest"] == img.digest
    assert after["layers"] == 1 and after["size"] > 0
    assert event.tenant_slug == "acme" and event.actor_type == "token"
    assert acme["write"] not in str(event.changes)
    client = Client(server, "dev", acme["write"])
    client.push_image("acme/audited", img, "v2")
    assert AuditEvent.objects.filter(action="registry.manifest.push").count() == 2
    client.push_image("acme/audited", img, "v2")  # nothing changed: nothing recorded
    assert AuditEvent.objects.filter(action="registry.manifest.push").count() == 2
    assert client.delete("/v2/acme/audited/manifests/v2").status_code == 202
    assert AuditEvent.objects.get(action="registry.tag.delete").changes["before"]["tag"] == "v2"
    assert client.delete(f"/v2/acme/audited/manifests/{img.digest}").status_code == 202
    deleted = AuditEvent.objects.get(action="registry.manifest.delete")
    assert deleted.changes["before"]["tags"] == ["v1"]
    # Blobs are not audited one by one.
    assert not AuditEvent.objects.filter(action__startswith="registry.blob").exists()


def test_pull_credentials_of_a_tenant_only_pull(server, acme):
    from applications.registry.auth import pull_credentials

    img = pushed(server, acme, "acme/deployed")
    username, password = pull_credentials(acme["tenant"])
    assert username == "pull.acme" and password.startswith("paaspull_")
    puller = Client(server, username, password)
    assert puller.get("/v2/acme/deployed/manifests/v1").content == img.manifest
    assert puller.get(f"/v2/acme/deployed/blobs/{next(iter(img.blobs))}").status_code == 200
    refused = puller.push_blob("acme/deployed", b"never")
    assert refused.status_code == 403 and error_codes(refused) == ["DENIED"]
    assert puller.delete(f"/v2/acme/deployed/manifests/{img.digest}").status_code == 403
    assert Client(server, *pull_credentials(acme["globex"])).get("/v2/acme/deployed/manifests/v1").status_code == 404
    assert Client(server, username, password[:-1] + "x").get("/v2/acme/deployed/manifests/v1").status_code == 401
    assert Client(server, "pull.globex", password).get("/v2/acme/deployed/manifests/v1").status_code == 401
