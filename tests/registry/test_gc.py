"""registry_gc: what manifests use stays, what nothing uses goes (after the grace period)."""
import os
import time
import uuid
from io import BytesIO, StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from applications.registry import blobs, gc, storage
from applications.registry.models import Blob, Repository, Upload
from applications.registry.services import manifest_delete
from paas.actors import Actor

from . import images
from .test_v2_inprocess import dev, push  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
SYSTEM = Actor.for_system("tests")


def run_gc(*args) -> str:
    out = StringIO()
    call_command("registry_gc", *args, stdout=out)
    return out.getvalue()


def age(path, seconds: int) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_unused_blobs_go_used_ones_stay(dev):  # noqa: F811
    client = Client()
    shared = {"base/os-release": b"debian"}
    app = images.image([shared, {"app.jar": b"v1"}])
    other = images.image([shared, {"app.jar": b"v2"}])
    assert push(client, dev, "acme/api", app, "v1").status_code == 201
    assert push(client, dev, "acme/api", other, "v2").status_code == 201
    referrer = images.artifact(app, artifact_type="application/vnd.paas.provenance.v1+json", payload=b"{}")
    assert push(client, dev, "acme/api", referrer, referrer.digest).status_code == 201
    stray = b"pushed, never used"
    client.post(f"/v2/acme/api/blobs/uploads/?digest={images.digest_of(stray)}", data=stray,
                content_type="application/octet-stream", **dev)
    in_use = Blob.objects.count() - 1

    # Within the grace period nothing goes, not even the stray blob.
    assert "removed 0 blobs" in run_gc()
    # A tag deleted is not a manifest deleted: the manifest and its blobs stay.
    assert client.delete("/v2/acme/api/manifests/v2", **dev).status_code == 202
    output = run_gc("--grace-seconds", "0", "--dry-run")
    assert f"would remove blob {images.digest_of(stray)}" in output and "would remove 1 blobs" in output
    assert storage.blob_exists(images.digest_of(stray))

    output = run_gc("--grace-seconds", "0")
    assert f"removed blob {images.digest_of(stray)}" in output
    assert f"freed {len(stray)} bytes" in output
    assert not storage.blob_exists(images.digest_of(stray))
    assert Blob.objects.count() == in_use

    # The manifest deleted: its own layer and config go, the shared layer stays.
    manifest_delete(actor=SYSTEM, manifest=Repository.objects.get().manifests.get(digest=other.digest))
    report = gc.collect(grace_seconds=0)
    removed = {digest for digest, _ in report.blobs}
    v2_only = set(other.blobs) - set(app.blobs)
    assert removed == v2_only | {other.digest}
    for digest in app.blobs:
        assert storage.blob_exists(digest)
    assert client.get("/v2/acme/api/manifests/v1", **dev).status_code == 200
    assert client.get(f"/v2/acme/api/referrers/{app.digest}", **dev).json()["manifests"][0]["digest"] == referrer.digest


def test_index_children_cannot_be_deleted_under_it(dev):  # noqa: F811
    client = Client()
    one, two = images.image([{"a": b"1"}]), images.image([{"a": b"2"}])
    push(client, dev, "acme/multi", one, one.digest)
    push(client, dev, "acme/multi", two, two.digest)
    body = images.index([one, two])
    assert client.put("/v2/acme/multi/manifests/all", data=body, content_type=images.OCI_INDEX, **dev).status_code == 201
    refused = client.delete(f"/v2/acme/multi/manifests/{one.digest}", **dev)
    assert refused.status_code == 409
    assert gc.collect(grace_seconds=0).blobs == []
    assert client.delete(f"/v2/acme/multi/manifests/{images.digest_of(body)}", **dev).status_code == 202
    assert client.delete(f"/v2/acme/multi/manifests/{one.digest}", **dev).status_code == 202


def test_stale_uploads_and_stray_files(dev, settings):  # noqa: F811
    client = Client()
    fresh = client.post("/v2/acme/api/blobs/uploads/", **dev)
    stale = client.post("/v2/acme/api/blobs/uploads/", **dev)
    client.patch(stale["Location"], data=b"half a layer", content_type="application/octet-stream", **dev)
    Upload.objects.filter(pk=stale["Docker-Upload-UUID"]).update(updated_at="2020-01-01T00:00:00Z")
    leftover = storage.uploads_dir() / f"tmp-{uuid.uuid4().hex}"
    leftover.write_bytes(b"killed mid-upload")
    age(leftover, 7200)
    orphan_digest = images.digest_of(b"file without a row")
    orphan = storage.blob_path(orphan_digest)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"file without a row")
    age(orphan, 7200)

    output = run_gc()
    assert f"removed upload session {stale['Docker-Upload-UUID']}" in output
    assert "stray file uploads/tmp-" in output and f"stray file sha256/{orphan_digest[7:9]}" in output
    assert list(Upload.objects.values_list("pk", flat=True)) == [uuid.UUID(fresh["Docker-Upload-UUID"])]
    # A push that never got further than a failed blob leaves an empty repository; it goes too.
    bad = client.post(f"/v2/acme/abandoned/blobs/uploads/?digest={images.digest_of(b'x')}", data=b"y",
                      content_type="application/octet-stream", **dev)
    assert bad.status_code == 400
    Repository.objects.filter(name="acme/abandoned").update(created_at="2020-01-01T00:00:00Z")
    assert "removed empty repository acme/abandoned" in run_gc()
    assert not Repository.objects.filter(name="acme/abandoned").exists()
    assert Repository.objects.filter(name="acme/api").exists()  # it has an upload session
    assert storage.upload_path(fresh["Docker-Upload-UUID"]).exists()
    assert not leftover.exists() and not orphan.exists()


def test_a_blob_touched_meanwhile_is_kept(dev):  # noqa: F811
    repository = blobs.repository_for_push("acme/api")
    path, digest, size = storage.receive(BytesIO(b"layer"), limit=100)
    blob = blobs.store(repository, path, digest, size)
    Blob.objects.filter(pk=blob.pk).update(touched_at="2020-01-01T00:00:00Z")
    blob.refresh_from_db()
    blobs.touch(blob)  # a HEAD before a push
    assert gc.collect(grace_seconds=60).blobs == []
