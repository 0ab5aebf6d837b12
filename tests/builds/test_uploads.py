"""Artifact uploads: the API's raw body and the page's multipart form are streamed to disk,
hashed on the way, refused when empty, corrupt (checksum mismatch) or over the size limit,
stored once by their digest and audited."""
import hashlib
import io
import os

import pytest

from applications.builds.models import Artifact
from paas.audit.models import AuditEvent
from tenants.models import ApiToken
from tests.factories import make_token

pytestmark = pytest.mark.django_db

BODY = os.urandom(3 * 1024 * 1024 + 17)  # over FILE_UPLOAD_MAX_MEMORY_SIZE, not a multiple of a chunk
SHA = hashlib.sha256(BODY).hexdigest()


def put(client, app, body=BODY, filename="app.jar", **extra):
    url = f"/api/v1/applications/{app.pk}/artifacts/?filename={filename}"
    return client.put(url, body, content_type=extra.pop("content_type", "application/octet-stream"), **extra)


def stored_files(settings):
    root = settings.BUILD_ARTIFACT_DIR
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_api_upload_streams_hashes_and_audits(personas, login, app, settings):
    response = put(login(personas["developer"]), app)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sha256"] == SHA and body["size"] == len(BODY) and body["filename"] == "app.jar"
    artifact = Artifact.objects.get()
    assert (settings.BUILD_ARTIFACT_DIR / artifact.path).read_bytes() == BODY
    assert artifact.path == f"sha256/{SHA}" and artifact.uploaded_by == personas["developer"]
    assert stored_files(settings) == [f"sha256/{SHA}"]  # no temporary file left behind
    event = AuditEvent.objects.get(action="artifact.upload")
    assert event.changes["after"] == {"application": "payments-api", "filename": "app.jar", "size": len(BODY),
                                      "sha256": SHA}


def test_the_same_upload_twice_is_one_artifact(personas, login, app, settings):
    client = login(personas["developer"])
    assert put(client, app).status_code == 201
    again = put(client, app)
    assert again.status_code == 200 and again.json()["id"] == Artifact.objects.get().pk
    assert put(client, app, filename="other.jar").status_code == 201  # another name: another artifact, one file
    assert Artifact.objects.count() == 2 and stored_files(settings) == [f"sha256/{SHA}"]
    assert AuditEvent.objects.filter(action="artifact.upload").count() == 2


def test_expected_checksum_header_and_query(personas, login, app):
    client = login(personas["developer"])
    assert put(client, app, HTTP_X_CHECKSUM_SHA256=SHA.upper()).status_code == 201
    url = f"/api/v1/applications/{app.pk}/artifacts/?filename=b.jar&checksum=sha256:{SHA}"
    assert client.put(url, BODY, content_type="application/octet-stream").status_code == 201


def test_corrupt_upload_is_refused_naming_file(personas, login, app, settings):
    response = put(login(personas["developer"]), app, HTTP_X_CHECKSUM_SHA256="0" * 64)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "corrupt_upload" and "corrupt upload" in error["message"]
    assert list(error["fields"]) == ["file"] and SHA in error["message"]
    assert Artifact.objects.count() == 0 and stored_files(settings) == []


def test_malformed_checksum_is_refused(personas, login, app):
    response = put(login(personas["developer"]), app, HTTP_X_CHECKSUM_SHA256="xyz")
    assert response.status_code == 400 and list(response.json()["error"]["fields"]) == ["checksum"]


def test_empty_upload_is_refused(personas, login, app, settings):
    response = put(login(personas["developer"]), app, body=b"")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"file": ["file: the file is empty."]}
    assert stored_files(settings) == []


def test_size_limit_by_declared_length_and_while_streaming(personas, login, app, settings):
    settings.BUILD_ARTIFACT_MAX_BYTES = 1024 * 1024
    client = login(personas["developer"])
    response = put(client, app)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large" and list(response.json()["error"]["fields"]) == ["file"]
    # A client that declares a small length but sends more (or no length) is stopped at the limit.
    from applications.builds import services
    from applications.builds.storage import ArtifactTooLarge
    from paas.actors import Actor

    stream = io.BytesIO(BODY)
    with pytest.raises(ArtifactTooLarge) as refused:
        services.artifact_upload(actor=Actor.for_user(personas["developer"]), application=app, filename="a.jar",
                                 read=stream.read, content_length=None)
    assert getattr(refused.value, "status_code", None) == 413
    assert stream.tell() <= 2 * 1024 * 1024  # stopped reading at the limit, not at the end
    assert stored_files(settings) == [] and Artifact.objects.count() == 0


@pytest.mark.parametrize("name", ["", "../x.jar", "a/b.jar", "a\\b", "..", "x\x01y"])
def test_bad_file_names(personas, login, app, name):
    response = put(login(personas["developer"]), app, filename=name)
    assert response.status_code == 400, name
    assert set(response.json()["error"]["fields"]) == {"filename"}


def test_other_content_types_are_415(personas, login, app):
    response = put(login(personas["developer"]), app, content_type="application/json", body=b"{}")
    assert response.status_code == 415


@pytest.mark.parametrize("who,expected", [("viewer", 403), ("auditor", 403), ("approver", 403), ("outsider", 404)])
def test_who_may_not_upload(personas, login, app, settings, who, expected):
    response = put(login(personas[who]), app)
    assert response.status_code == expected
    assert Artifact.objects.count() == 0 and stored_files(settings) == []
    assert AuditEvent.objects.filter(outcome="denied").exists()


def test_tokens(personas, client, app, tenant):
    _read, read_secret = make_token(personas["developer"], tenant, scope=ApiToken.Scope.READ, name="r")
    _write, write_secret = make_token(personas["developer"], tenant, name="w")
    refused = put(client, app, HTTP_AUTHORIZATION=f"Bearer {read_secret}")
    assert refused.status_code == 403 and "read-only" in refused.json()["error"]["message"]
    assert put(client, app, HTTP_AUTHORIZATION=f"Bearer {write_secret}").status_code == 201
    listed = client.get(f"/api/v1/applications/{app.pk}/artifacts/", HTTP_AUTHORIZATION=f"Bearer {read_secret}")
    assert listed.status_code == 200 and [a["sha256"] for a in listed.json()["results"]] == [SHA]


# --- the page's multipart upload -----------------------------------------------------------

def page_upload(client, app, content=BODY, name="app.jar", checksum="", json=True):
    upload = io.BytesIO(content)
    upload.name = name
    headers = {"HTTP_ACCEPT": "application/json"} if json else {}
    return client.post(f"/applications/{app.pk}/builds/artifacts/upload/", {"checksum": checksum, "file": upload},
                       **headers)


def test_page_upload_hashes_while_writing(personas, login, app, settings):
    response = page_upload(login(personas["developer"]), app, checksum=SHA)
    assert response.status_code == 201, response.content
    assert response.json()["sha256"] == SHA and response.json()["size"] == len(BODY)
    assert stored_files(settings) == [f"sha256/{SHA}"]


def test_page_upload_without_javascript_redirects_with_the_artifact_selected(personas, login, app):
    response = page_upload(login(personas["developer"]), app, json=False)
    artifact = Artifact.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/new/?artifact={artifact.pk}")


def test_page_upload_refusals(personas, login, app, settings):
    client = login(personas["developer"])
    corrupt = page_upload(client, app, checksum="1" * 64)
    assert corrupt.status_code == 400 and "corrupt upload" in corrupt.json()["error"]["message"]
    empty = page_upload(client, app, content=b"")
    assert empty.status_code == 400 and empty.json()["error"]["field"] == "file"
    settings.BUILD_ARTIFACT_MAX_BYTES = 1024 * 1024
    large = page_upload(client, app)
    assert large.status_code == 413
    assert stored_files(settings) == [] and Artifact.objects.count() == 0


@pytest.mark.parametrize("who,expected", [("viewer", 403), ("outsider", 404)])
def test_page_upload_permissions(personas, login, app, settings, who, expected):
    assert page_upload(login(personas[who]), app).status_code == expected
    assert not settings.BUILD_ARTIFACT_DIR.exists() or stored_files(settings) == []


def test_page_upload_checks_csrf(personas, app):
    from django.test import Client

    from tests.factories import PASSWORD

    client = Client(enforce_csrf_checks=True)
    client.login(username="developer", password=PASSWORD)
    assert page_upload(client, app).status_code == 403
    assert Artifact.objects.count() == 0
