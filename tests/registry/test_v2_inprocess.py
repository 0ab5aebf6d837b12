"""The /v2/ views through Django's test client: what is hard to provoke over a real socket
(daphne waits for a whole body before the application sees it) and the pieces one at a time."""
import base64
import json
import time

import pytest
from django.core import signing
from django.test import Client

from applications.registry import auth, storage
from applications.registry.models import Blob, Manifest, Repository, Tag, Upload
from applications.registry.selectors import manifest_for
from tenants.models import ApiToken
from tests.factories import make_token

from . import images

pytestmark = pytest.mark.django_db


@pytest.fixture
def dev(personas, tenant):
    _, raw = make_token(personas["developer"], tenant, ApiToken.Scope.WRITE)
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"developer:{raw}".encode()).decode()}


def push(client: Client, headers: dict, name: str, img: images.Image, reference: str):
    for digest, data in img.blobs.items():
        response = client.post(f"/v2/{name}/blobs/uploads/?digest={digest}", data=data,
                               content_type="application/octet-stream", **headers)
        assert response.status_code == 201, response.content
    return client.put(f"/v2/{name}/manifests/{reference}", data=img.manifest, content_type=img.media_type, **headers)


def codes(response) -> list[str]:
    return [e["code"] for e in json.loads(response.content)["errors"]]


def test_huge_content_length_is_refused_before_reading(dev, settings):
    settings.REGISTRY_MAX_BLOB_BYTES = 1000
    client = Client()
    response = client.post("/v2/acme/x/blobs/uploads/?digest=" + images.digest_of(b"x"), data=b"x",
                           content_type="application/octet-stream", CONTENT_LENGTH="99999999999999999999", **dev)
    assert response.status_code == 400 and codes(response) == ["SIZE_INVALID"]
    response = client.post("/v2/acme/x/blobs/uploads/?digest=" + images.digest_of(b"x"), data=b"x",
                           content_type="application/octet-stream", CONTENT_LENGTH="5000", **dev)
    assert response.status_code == 413 and codes(response) == ["SIZE_INVALID"]
    response = client.post("/v2/acme/x/blobs/uploads/?digest=" + images.digest_of(b"x"), data=b"x",
                           content_type="application/octet-stream", CONTENT_LENGTH="-1", **dev)
    assert response.status_code == 400
    # Streaming past the limit without a length (chunked transfer) stops at the limit.
    big = b"y" * 2000
    response = client.post("/v2/acme/x/blobs/uploads/?digest=" + images.digest_of(big), data=big,
                           content_type="application/octet-stream", **dev)
    assert response.status_code == 413
    assert not Blob.objects.exists()
    uploads = settings.REGISTRY_STORAGE_DIR / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_blob_bodies_are_not_limited_by_data_upload_max_memory_size(dev, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    data = b"z" * 100_000
    response = Client().post(f"/v2/acme/x/blobs/uploads/?digest={images.digest_of(data)}", data=data,
                             content_type="application/octet-stream", **dev)
    assert response.status_code == 201
    assert storage.blob_path(images.digest_of(data)).read_bytes() == data


def test_manifest_size_limit(dev):
    big = json.dumps({"schemaVersion": 2, "pad": "x" * (4 * 1024 * 1024)}).encode()
    response = Client().put("/v2/acme/x/manifests/v1", data=big, content_type=images.OCI_MANIFEST, **dev)
    assert response.status_code == 413 and codes(response) == ["MANIFEST_INVALID"]


@pytest.mark.parametrize("body,content_type", [
    (b"\xff\xfe", images.OCI_MANIFEST),
    (b'{"schemaVersion": 2, "config": NaN}', images.OCI_MANIFEST),
    (b"[" * 10000 + b"]" * 10000, images.OCI_MANIFEST),
    (json.dumps({"schemaVersion": True}).encode(), images.OCI_MANIFEST),
    (json.dumps({"schemaVersion": 2, "mediaType": images.OCI_INDEX}).encode(), images.OCI_MANIFEST),
    (json.dumps({"schemaVersion": 2}).encode(), "application/json"),
    (json.dumps({"schemaVersion": 2, "mediaType": images.OCI_INDEX, "manifests": [{"digest": "x"}]}).encode(),
     images.OCI_INDEX),
    (json.dumps({"schemaVersion": 2, "mediaType": images.OCI_MANIFEST, "layers": [],
                 "config": {"mediaType": "a", "digest": images.digest_of(b""), "size": -1}}).encode(),
     images.OCI_MANIFEST),
])
def test_invalid_manifests(dev, body, content_type):
    response = Client().put("/v2/acme/x/manifests/v1", data=body, content_type=content_type, **dev)
    assert response.status_code == 400, response.content
    assert codes(response) == ["MANIFEST_INVALID"]


def test_tag_names_and_digests(dev):
    img = images.image([{"a": b"1"}])
    client = Client()
    assert push(client, dev, "acme/x", img, "-bad").status_code == 400
    assert push(client, dev, "acme/x", img, "sha512:" + "a" * 128).status_code == 400
    assert push(client, dev, "acme/x", img, "v1.0_rc-1").status_code == 201
    assert client.get("/v2/acme/x/manifests/sha256:nothex", **dev).status_code == 404
    bad = client.get("/v2/acme/x/blobs/not-a-digest", **dev)
    assert bad.status_code == 400 and codes(bad) == ["DIGEST_INVALID"]


def test_a_size_that_does_not_match_the_blob(dev):
    img = images.image([{"a": b"1"}])
    data = json.loads(img.manifest)
    data["layers"][0]["size"] += 1
    for digest, blob in img.blobs.items():
        Client().post(f"/v2/acme/x/blobs/uploads/?digest={digest}", data=blob,
                      content_type="application/octet-stream", **dev)
    response = Client().put("/v2/acme/x/manifests/v1", data=json.dumps(data), content_type=images.OCI_MANIFEST,
                            **dev)
    assert response.status_code == 400 and codes(response) == ["MANIFEST_INVALID"]


def test_methods_and_unknown_endpoints(dev):
    client = Client()
    assert client.post("/v2/acme/x/tags/list", **dev).status_code == 405
    assert client.delete(f"/v2/acme/x/blobs/{images.digest_of(b'x')}", **dev).status_code == 405
    unknown = client.get("/v2/acme/x/whatever", **dev)
    assert unknown.status_code == 404 and unknown["Content-Type"] == "application/json"
    assert client.get("/v2/acme/x/tags/list?n=abc", **dev).status_code in (400, 404)


def test_ranges(dev):
    data = bytes(range(256)) * 4
    digest = images.digest_of(data)
    client = Client()
    client.post(f"/v2/acme/x/blobs/uploads/?digest={digest}", data=data, content_type="application/octet-stream",
                **dev)
    tail = client.get(f"/v2/acme/x/blobs/{digest}", HTTP_RANGE="bytes=-10", **dev)
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == data[-10:]
    assert tail["Content-Range"] == f"bytes {len(data) - 10}-{len(data) - 1}/{len(data)}"
    assert client.get(f"/v2/acme/x/blobs/{digest}", HTTP_RANGE="bytes=5000-", **dev).status_code == 416


def test_upload_sessions_belong_to_their_repository(dev):
    client = Client()
    location = client.post("/v2/acme/x/blobs/uploads/", **dev)["Location"]
    other = location.replace("/acme/x/", "/acme/y/")
    assert client.get(other, **dev).status_code == 404
    assert client.get("/v2/acme/x/blobs/uploads/not-a-uuid", **dev).status_code == 404
    assert Upload.objects.count() == 1


def test_concurrent_chunk_is_refused(dev):
    client = Client()
    location = client.post("/v2/acme/x/blobs/uploads/", **dev)["Location"]
    upload = Upload.objects.get()
    with storage.locked_upload(upload.pk):
        busy = client.patch(location, data=b"abc", content_type="application/octet-stream",
                            HTTP_CONTENT_RANGE="0-2", **dev)
    assert busy.status_code == 416
    assert storage.upload_size(upload.pk) == 0


def test_put_without_prior_patch_carries_the_whole_body(dev):
    data = b"all in the final put"
    client = Client()
    location = client.post("/v2/acme/x/blobs/uploads/", **dev)["Location"]
    done = client.put(f"{location}?digest={images.digest_of(data)}", data=data,
                      content_type="application/octet-stream", **dev)
    assert done.status_code == 201
    assert not Upload.objects.exists()
    assert list((storage.uploads_dir()).iterdir()) == []


def test_tokens(personas, tenant, monkeypatch):
    dev = personas["developer"]
    scopes = ["repository:acme/api:pull,push,delete", "repository:globex/api:pull", "repository:platform/jre:*",
              "registry:catalog:*", "nonsense", "repository:../x:pull"]
    verified = auth.verify(auth.issue_token(user=dev, tenant=tenant, scopes=scopes))
    assert verified.access == (
        {"type": "repository", "name": "acme/api", "actions": ["pull", "push", "delete"]},
        {"type": "repository", "name": "platform/jre", "actions": ["pull"]},
        {"type": "registry", "name": "catalog", "actions": ["*"]},
    )
    viewer = auth.verify(auth.issue_token(user=personas["viewer"], tenant=tenant, scopes=scopes[:1]))
    assert viewer.access == ({"type": "repository", "name": "acme/api", "actions": ["pull"]},)
    outsider = auth.verify(auth.issue_token(user=personas["outsider"], tenant=tenant, scopes=scopes[:1]))
    assert outsider.access == ()
    # Forged, tampered and expired tokens are nothing.
    good = auth.issue_token(user=dev, tenant=tenant, scopes=scopes[:1])
    assert auth.verify(good[:-2] + "xx") is None
    assert auth.verify("garbage") is None
    forged = signing.dumps({"sub": dev.pk, "acc": [], "exp": int(time.time()) + 60}, key="wrong",
                           salt="paas.registry.token")
    assert auth.verify(forged) is None
    expired = auth.issue_token(user=dev, tenant=tenant, scopes=scopes[:1], ttl=60)
    now = time.time()
    monkeypatch.setattr(auth.time, "time", lambda: now + 61)
    assert auth.verify(expired) is None
    monkeypatch.undo()
    dev.is_active = False
    dev.save()
    assert auth.verify(good) is None


def test_operator_pushes_platform_images(personas):
    from django.contrib.auth.models import Permission

    operator = personas["operator"]
    principal = auth.Principal(user=operator)
    assert auth.allowed_actions(principal, "platform/jre") == {"pull"}
    operator.user_permissions.add(Permission.objects.get(codename="push_platform_image"))
    operator = type(operator).objects.get(pk=operator.pk)
    assert auth.allowed_actions(auth.Principal(user=operator), "platform/jre") == {"pull", "push", "delete"}
    assert auth.allowed_actions(auth.Principal(user=operator), "acme/jre") == set()


def test_manifest_for(dev, tenant, other_tenant):
    img = images.image([{"a": b"x"}])
    base = images.image([{"b": b"y"}])
    client = Client()
    assert push(client, dev, "acme/api", img, "v1").status_code == 201
    found = manifest_for(tenant, "api", "v1")
    assert found.digest == img.digest
    assert manifest_for(tenant, "acme/api", img.digest) == found
    assert manifest_for(tenant, "api", "v2") is None
    assert manifest_for(other_tenant, "acme/api", "v1") is None
    assert manifest_for(None, "acme/api", "v1") is None
    system = auth.issue_token(user=None, tenant=None, scopes=["repository:platform/jre:pull,push"])
    assert push(client, {"HTTP_AUTHORIZATION": f"Bearer {system}"}, "platform/jre", base, "17").status_code == 201
    assert manifest_for(None, "jre", "17").digest == base.digest
    assert manifest_for(None, "platform/jre", "17").digest == base.digest
    assert Repository.objects.get(name="platform/jre").tenant is None
    assert found.reference.endswith(f"/acme/api@{img.digest}")


def test_retagging_moves_the_tag_and_records_the_old_digest(dev, tenant):
    from paas.audit.models import AuditEvent

    client = Client()
    one, two = images.image([{"a": b"1"}]), images.image([{"a": b"2"}])
    push(client, dev, "acme/api", one, "latest")
    push(client, dev, "acme/api", two, "latest")
    assert Tag.objects.get(name="latest").manifest.digest == two.digest
    assert Manifest.objects.count() == 2
    moved = AuditEvent.objects.filter(action="registry.manifest.push").order_by("-id").first()
    assert moved.changes["before"] == {"tag": "latest", "digest": one.digest}


def test_missing_tools_fail_in_ci_and_skip_locally(monkeypatch):
    from . import servers

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install skopeo"):
        servers.need("/nonexistent/skopeo", "skopeo")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        servers.need("/nonexistent/skopeo", "skopeo")
