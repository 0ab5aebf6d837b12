"""RegistryClient against docker-registry: blobs (monolithic, chunked, mounted), manifests and
indexes, the spec's error codes, and authentication (Bearer token service, Basic, pre-issued token)."""
import hashlib
import random

import pytest

from applications.oci import mediatypes as mt
from applications.oci.client import (
    EXISTING,
    MOUNTED,
    UPLOADED,
    RegistryClient,
    RegistryError,
    RegistryUnreachable,
    parse_challenge,
)

from .conftest import free_port, start_basic_registry, start_registry, stop_registry
from .tokenauth import TokenService


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _image(client, repo, tag="1", layer=b"layer bytes", platform=("linux", "amd64")):
    """A minimal image pushed by hand; returns its manifest digest."""
    config = (f'{{"architecture":"{platform[1]}","os":"{platform[0]}",'
              '"rootfs":{"type":"layers","diff_ids":[]}}').encode()
    client.push_blob(repo, config)
    client.push_blob(repo, layer)
    manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                "config": {"mediaType": mt.OCI_CONFIG, "digest": _digest(config), "size": len(config)},
                "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": _digest(layer), "size": len(layer)}]}
    return client.push_manifest(repo, tag, manifest)


def test_blobs_monolithic_chunked_existing_and_mounted(registry_client, repo, tmp_path):
    small = b"small blob"
    assert registry_client.head_blob(repo, _digest(small)) is None
    assert registry_client.push_blob(repo, small) == UPLOADED
    assert registry_client.push_blob(repo, small) == EXISTING
    assert registry_client.head_blob(repo, _digest(small)) == len(small)
    assert registry_client.get_blob(repo, _digest(small)) == small

    big = tmp_path / "big"
    big.write_bytes(random.Random(3).randbytes(3 * 1024 * 1024 + 7))
    chunked = RegistryClient(registry_client.base_url, chunk_size=1024 * 1024, monolithic_max=64 * 1024)
    sent = []
    assert chunked.push_blob(repo, big, progress=lambda done, total: sent.append((done, total))) == UPLOADED
    assert [done for done, _ in sent] == [1048576, 2097152, 3145728, 3145735]
    digest = _digest(big.read_bytes())
    out = chunked.get_blob(repo, digest, tmp_path / "down")
    assert out.read_bytes() == big.read_bytes() and not (tmp_path / "down.part").exists()
    with pytest.raises(RegistryError, match="larger than"):
        chunked.get_blob(repo, digest, max_bytes=1024)

    other = repo + "-other"
    assert registry_client.push_blob(other, small, mount_from=repo) == MOUNTED
    assert registry_client.mount_blob(other + "x", digest, repo) is True
    assert registry_client.mount_blob(other, _digest(b"nowhere"), repo) is False


def test_wrong_digest_is_refused_with_the_spec_code(registry_client, repo):
    with pytest.raises(RegistryError) as caught:
        registry_client.push_blob(repo, b"these bytes", _digest(b"other bytes"), 11)
    assert caught.value.code == "DIGEST_INVALID" and caught.value.status == 400
    with pytest.raises(RegistryError) as caught:
        registry_client.get_blob(repo, _digest(b"missing"))
    assert caught.value.code == "BLOB_UNKNOWN" and caught.value.status == 404


def test_manifests_tags_and_indexes(registry_client, repo):
    amd = _image(registry_client, repo, "amd")
    arm = _image(registry_client, repo, "arm", layer=b"arm layer", platform=("linux", "arm64"))
    assert registry_client.manifest_digest(repo, "amd") == amd
    assert registry_client.manifest_digest(repo, "nope") is None
    manifest = registry_client.get_manifest(repo, "amd")
    assert (manifest.digest, manifest.media_type, manifest.index_digest) == (amd, mt.OCI_MANIFEST, None)
    assert manifest.config["mediaType"] == mt.OCI_CONFIG and len(manifest.layers) == 1
    assert registry_client.get_manifest(repo, amd).raw == manifest.raw

    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [
        {"mediaType": mt.OCI_MANIFEST, "digest": arm, "size": len(registry_client.get_manifest(repo, arm).raw),
         "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": mt.OCI_MANIFEST, "digest": amd, "size": len(manifest.raw),
         "platform": {"os": "linux", "architecture": "amd64"}}]}
    index_digest = registry_client.push_manifest(repo, "multi", index)
    resolved = registry_client.get_manifest(repo, "multi")
    assert (resolved.digest, resolved.index_digest) == (amd, index_digest)
    assert registry_client.get_manifest(repo, "multi", platform="linux/arm64").digest == arm
    assert registry_client.get_manifest(repo, "multi", resolve_index=False).is_index
    with pytest.raises(RegistryError, match="has no linux/s390x image"):
        registry_client.get_manifest(repo, "multi", platform="linux/s390x")
    with pytest.raises(RegistryError) as caught:
        registry_client.get_manifest(repo, "missing")
    assert caught.value.code == "MANIFEST_UNKNOWN"
    assert sorted(registry_client.list_tags(repo)) == ["amd", "arm", "multi"]

    with pytest.raises(RegistryError) as caught:  # a layer the registry does not have
        registry_client.push_manifest(repo, "broken", {**registry_client.get_manifest(repo, "amd").data,
                                                       "layers": [{"mediaType": mt.OCI_LAYER_GZIP,
                                                                   "digest": _digest(b"absent"), "size": 6}]})
    assert caught.value.code == "MANIFEST_BLOB_UNKNOWN"
    registry_client.delete_manifest(repo, arm)
    assert registry_client.manifest_digest(repo, "arm") is None


def test_referrers_fallback_lists_artifacts_by_type(registry_client, repo):
    subject = _image(registry_client, repo)
    size = len(registry_client.get_manifest(repo, subject).raw)
    registry_client.push_blob(repo, mt.EMPTY_JSON)
    pushed = {}
    for kind in ("application/vnd.example.sbom", "application/vnd.example.signature"):
        payload = kind.encode()
        registry_client.push_blob(repo, payload)
        artifact = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "artifactType": kind,
                    "config": mt.EMPTY_DESCRIPTOR,
                    "layers": [{"mediaType": kind, "digest": _digest(payload), "size": len(payload)}],
                    "subject": {"mediaType": mt.OCI_MANIFEST, "digest": subject, "size": size}}
        pushed[kind] = registry_client.push_manifest(repo, None, artifact)
    everything = registry_client.referrers(repo, subject)
    assert {d["digest"] for d in everything} == set(pushed.values())
    sboms = registry_client.referrers(repo, subject, artifact_type="application/vnd.example.sbom")
    assert [d["digest"] for d in sboms] == [pushed["application/vnd.example.sbom"]]
    assert registry_client.referrers(repo, _digest(b"no such subject")) == []


def test_unreachable_registry():
    client = RegistryClient(f"127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(RegistryUnreachable) as caught:
        client.head_blob("acme/app", _digest(b"x"))
    assert caught.value.code == "UNREACHABLE"


def test_challenge_parsing():
    assert parse_challenge('Bearer realm="https://r/token",service="reg",scope="repository:a/b:pull,push"') == (
        "bearer", {"realm": "https://r/token", "service": "reg", "scope": "repository:a/b:pull,push"})
    assert parse_challenge('Basic realm="Registry"') == ("basic", {"realm": "Registry"})
    assert parse_challenge('Basic realm="x", Bearer realm="https://t"')[0] == "bearer"
    assert parse_challenge("") == ("", {})


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory):
    directory = tmp_path_factory.mktemp("token-registry")
    service = TokenService(directory)
    registry = start_registry(directory, service.registry_config())
    yield registry, service
    stop_registry(registry)
    service.stop()


def test_bearer_token_flow_and_token_cache(token_registry, repo):
    registry, service = token_registry
    anonymous = RegistryClient(registry.url)
    with pytest.raises(RegistryError) as caught:
        anonymous.head_blob(repo, _digest(b"x"))
    assert (caught.value.status, caught.value.code) == (401, "UNAUTHORIZED")

    writer = RegistryClient(registry.url, username="writer", password="s3cret")
    before = len(service.requests)
    digest = _image(writer, repo)
    asked = service.requests[before:]
    assert {r["user"] for r in asked} == {"writer"} and {tuple(r["service"]) for r in asked} == {("test-registry",)}
    # One token per scope, reused for every later request with that scope.
    assert sorted(tuple(r["scopes"]) for r in asked) == [(f"repository:{repo}:pull",),
                                                         (f"repository:{repo}:pull,push",)]
    assert writer.get_manifest(repo, "1").digest == digest
    assert len(service.requests) == before + 2

    reader = RegistryClient(registry.url, username="reader", password="r3ad")
    assert reader.manifest_digest(repo, "1") == digest
    with pytest.raises(RegistryError) as caught:
        reader.push_blob(repo, b"not allowed")
    assert caught.value.status == 401

    wrong = RegistryClient(registry.url, username="writer", password="wrong")
    with pytest.raises(RegistryError) as caught:
        wrong.manifest_digest(repo, "1")
    assert caught.value.status == 401 and "token service" in caught.value.message

    # A token issued beforehand (as kubelet pull secrets carry) is sent from the first request on.
    issued = service.token("reader", [f"repository:{repo}:pull"])
    before = len(service.requests)
    assert RegistryClient(registry.url, token=issued).manifest_digest(repo, "1") == digest
    assert len(service.requests) == before
    with pytest.raises(RegistryError) as caught:
        RegistryClient(registry.url, token="not-a-token").manifest_digest(repo, "1")
    assert caught.value.status == 401


def test_cross_repository_mount_with_tokens(token_registry, repo):
    registry, service = token_registry
    writer = RegistryClient(registry.url, username="writer", password="s3cret")
    writer.push_blob(repo, b"shared layer")
    before = len(service.requests)
    assert writer.push_blob(repo + "-b", b"shared layer", mount_from=repo) == MOUNTED
    assert [f"repository:{repo}-b:pull,push", f"repository:{repo}:pull"] in [r["scopes"] for r in
                                                                              service.requests[before:]]


def test_build_with_a_token_registry(token_registry, repo, settings):
    from applications.oci.base_images import seed_base_images
    from applications.oci.builder import build_image
    from applications.oci.references import ImageRef

    registry, _ = token_registry
    settings.REGISTRY_HOST = registry.host
    writer = RegistryClient(registry.url, username="writer", password="s3cret")
    seed_base_images(writer, only=["distroless-static"])
    result = build_image(dockerfile="FROM platform/distroless-static:1\nCOPY server /server\n"
                                    'USER 10001\nENTRYPOINT ["/server"]\n',
                         context_files={"server": b"\x7fELF fake static binary"},
                         target=ImageRef(registry.host, repo, "v1"), client=writer)
    assert RegistryClient(registry.url, username="reader", password="r3ad").manifest_digest(repo, "v1") == result.digest


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory):
    registry = start_basic_registry(tmp_path_factory.mktemp("basic-registry"), {"alice": "pa55"})
    yield registry
    stop_registry(registry)


def test_basic_auth_fallback(basic_registry, repo):
    client = RegistryClient(basic_registry.url, username="alice", password="pa55")
    digest = _image(client, repo)
    assert client.manifest_digest(repo, "1") == digest
    with pytest.raises(RegistryError) as caught:
        RegistryClient(basic_registry.url, username="alice", password="nope").manifest_digest(repo, "1")
    assert caught.value.status == 401
