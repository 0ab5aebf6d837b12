"""build_image against Debian's docker-registry, checked with skopeo: what a real client sees."""
import json
import random
import subprocess
import tarfile

import pytest

from applications.oci import mediatypes as mt
from applications.oci.builder import BaseImageNotFound, BuildCancelled, build_image
from applications.oci.client import RegistryClient
from applications.oci.dockerfile import UnsupportedInstruction
from applications.oci.references import ImageRef, parse

from .conftest import need, start_registry, stop_registry

DOCKERFILE = """\
# A Spring Boot service, as the Java template writes it.
ARG BASE=platform/jre:17
FROM ${BASE}
ARG PORT=8080
ENV SERVER_PORT=${PORT} JAVA_OPTS="-Xmx256m"
WORKDIR /app
COPY --chown=app:app app.jar /app/app.jar
COPY application.yml config/
USER app
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=2s CMD ["/opt/java/bin/java", "-version"]
ENTRYPOINT ["java", "-jar", "/app/app.jar"]
LABEL org.opencontainers.image.title="payments-api"
"""
YAML = b"server:\n  port: 8080\n"


@pytest.fixture
def artifact(tmp_path):
    path = tmp_path / "upload-7f3a"  # stored under its digest; the Dockerfile knows it as app.jar
    path.write_bytes(random.Random(10).randbytes(5 * 1024 * 1024 + 123))
    return path


def _client(registry):
    # Small thresholds so a few MiB exercise the chunked upload path too.
    return RegistryClient(registry.url, chunk_size=1024 * 1024, monolithic_max=512 * 1024)


def _build(registry, repo, artifact, **kwargs):
    options = dict(dockerfile=DOCKERFILE, context_files={"application.yml": YAML}, artifact=artifact,
                   artifact_name="app.jar", target=ImageRef(registry.host, repo, "1.0.0"),
                   client=_client(registry), labels={"org.opencontainers.image.revision": "abc123",
                                                     "org.opencontainers.image.source": "https://git.example/p"},
                   build_id="42", build_args={"PORT": "8081"},
                   provenance={"artifact": {"sha256": "f" * 64}, "startedBy": "dev@acme"})
    options.update(kwargs)
    return build_image(**options)


def skopeo(*args) -> str:
    need("/usr/bin/skopeo")
    done = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_build_push_and_inspect_with_skopeo(builtin_is, repo, artifact, tmp_path):
    registry, digests = builtin_is
    lines = []
    result = _build(registry, repo, artifact, log=lines.append)
    assert result.base_digest == digests["platform/jre:17"]
    assert result.image == f"{registry.host}/{repo}@{result.digest}"
    # jre's two base layers were mounted from platform/jre; 2 new layers and the config uploaded.
    assert (result.blobs_uploaded, result.blobs_reused) == (3, 2)
    assert any("mounted from platform/jre" in line for line in lines)
    assert any(line.startswith("Layer 1 of 2 (line 7, COPY --chown=app:app app.jar /app/app.jar)") for line in lines)

    inspect = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/{repo}:1.0.0"))
    assert inspect["Digest"] == result.digest
    assert (inspect["Architecture"], inspect["Os"], inspect["Created"]) == ("amd64", "linux", "1980-01-01T00:00:00Z")
    assert inspect["Labels"]["io.stratus.build.id"] == "42"
    assert inspect["Labels"]["org.opencontainers.image.revision"] == "abc123"
    assert inspect["Labels"]["org.opencontainers.image.base.digest"] == result.base_digest
    assert inspect["Labels"]["org.opencontainers.image.base.name"] == f"{registry.host}/platform/jre:17"
    assert inspect["Labels"]["org.opencontainers.image.title"] == "payments-api"
    assert len(inspect["Layers"]) == 4

    layout = tmp_path / "layout"
    skopeo("copy", "--src-tls-verify=false", f"docker://{registry.host}/{repo}@{result.digest}", f"oci:{layout}:img")
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["digest"] == result.digest  # skopeo kept the manifest byte for byte

    def blob(digest):
        return layout / "blobs" / "sha256" / digest.split(":")[1]

    manifest = json.loads(blob(result.digest).read_bytes())
    assert manifest["mediaType"] == mt.OCI_MANIFEST and manifest["config"]["digest"] == result.config_digest
    config = json.loads(blob(result.config_digest).read_bytes())
    container = config["config"]
    assert container["Entrypoint"] == ["java", "-jar", "/app/app.jar"] and "Cmd" not in container
    assert container["User"] == "app" and container["WorkingDir"] == "/app"
    assert container["ExposedPorts"] == {"8081/tcp": {}}
    assert "SERVER_PORT=8081" in container["Env"] and "JAVA_OPTS=-Xmx256m" in container["Env"]
    assert "JAVA_HOME=/opt/java" in container["Env"]  # inherited from the base
    assert container["Healthcheck"] == {"Test": ["CMD", "/opt/java/bin/java", "-version"],
                                        "Interval": 10_000_000_000, "Timeout": 2_000_000_000}
    assert len(config["rootfs"]["diff_ids"]) == 4
    assert {h["created"] for h in config["history"]} == {"1980-01-01T00:00:00Z"}
    assert len([h for h in config["history"] if not h.get("empty_layer")]) == 4

    with tarfile.open(blob(manifest["layers"][2]["digest"])) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["app", "app/app.jar"]
        jar = members["app/app.jar"]
        assert (jar.uid, jar.gid, jar.mode, jar.mtime) == (10001, 10001, 0o644, 315532800)
        assert tar.extractfile(jar).read() == artifact.read_bytes()
    with tarfile.open(blob(manifest["layers"][3]["digest"])) as tar:
        assert tar.getnames() == ["app", "app/config", "app/config/application.yml"]
        assert tar.extractfile("app/config/application.yml").read() == YAML
        assert {(m.uid, m.mode) for m in tar.getmembers() if m.isdir()} == {(0, 0o755)}
    with tarfile.open(blob(manifest["layers"][0]["digest"])) as tar:  # the base's /etc
        assert b"app:x:10001:10001" in tar.extractfile("etc/passwd").read()


def test_same_inputs_same_digest_nothing_uploaded(builtin_is, repo, artifact):
    registry, _ = builtin_is
    first = _build(registry, repo, artifact)
    again = _build(registry, repo, artifact, provenance={"startedBy": "someone else", "startedAt": "2030-01-01"})
    assert again.digest == first.digest and again.config_digest == first.config_digest
    assert (again.blobs_uploaded, again.blobs_reused) == (0, 5)
    assert again.provenance_digest != first.provenance_digest  # who and when live in the provenance only
    # Another build id: the same layers, another config (the id is a label of the image).
    other = _build(registry, repo, artifact, build_id="43")
    assert other.digest != first.digest and other.layers == first.layers
    assert other.blobs_uploaded == 1
    # The same inputs in another repository of the same registry: the same digest.
    elsewhere = _build(registry, repo + "-copy", artifact)
    assert elsewhere.digest == first.digest


def test_provenance_is_found_through_the_referrers_fallback(builtin_is, repo, artifact):
    registry, _ = builtin_is
    result = _build(registry, repo, artifact)
    client = RegistryClient(registry.url)
    found = client.referrers(repo, result.digest, artifact_type=mt.PROVENANCE)
    assert [d["digest"] for d in found] == [result.provenance_digest]
    # distribution 2.8 has no referrers API: the list is the tag schema's index.
    assert RegistryClient.referrers_tag(result.digest) in client.list_tags(repo)
    artifact_manifest = client.get_manifest(repo, result.provenance_digest)
    assert artifact_manifest.data["artifactType"] == mt.PROVENANCE
    assert artifact_manifest.data["config"]["mediaType"] == mt.OCI_EMPTY
    assert artifact_manifest.data["subject"] == {"mediaType": mt.OCI_MANIFEST, "digest": result.digest,
                                                 "size": len(client.get_manifest(repo, result.digest).raw)}
    record = json.loads(client.get_blob(repo, artifact_manifest.layers[0]["digest"]))
    assert record["subject"]["digest"] == result.digest
    assert record["base"]["digest"] == result.base_digest
    assert record["artifact"] == {"sha256": "f" * 64} and record["startedBy"] == "dev@acme"
    assert record["builder"]["id"] == "stratus-native" and record["buildArgs"] == {"PORT": "8081"}
    assert record == result.provenance
    # A second build's provenance joins the same list.
    again = _build(registry, repo, artifact, provenance={"startedBy": "ci"})
    assert len(client.referrers(repo, result.digest)) == 2
    assert again.provenance_digest in [d["digest"] for d in client.referrers(repo, result.digest)]


def test_run_is_refused_before_anything_is_pushed(builtin_is, repo, artifact):
    registry, _ = builtin_is
    with pytest.raises(UnsupportedInstruction) as caught:
        _build(registry, repo, artifact, dockerfile="FROM platform/jre:17\nCOPY app.jar /app/\n"
               "RUN chmod +x /app/app.jar\n")
    assert caught.value.line == 3 and "BUILDER=buildah" in str(caught.value)
    assert RegistryClient(registry.url).manifest_digest(repo, "1.0.0") is None


@pytest.mark.parametrize("after_checks", [1, 3, 6])
def test_a_cancelled_build_stops(builtin_is, repo, artifact, after_checks):
    registry, _ = builtin_is
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > after_checks

    lines = []
    with pytest.raises(BuildCancelled):
        _build(registry, repo, artifact, cancelled=cancelled, log=lines.append)
    assert lines[-1] == "Cancelled."
    assert RegistryClient(registry.url).manifest_digest(repo, "1.0.0") is None


def test_cancel_during_a_large_upload(builtin_is, repo, artifact):
    registry, _ = builtin_is
    patches = []

    class Watched(RegistryClient):
        def _request(self, method, url, scopes, **kwargs):
            if method == "PATCH":
                patches.append(url)
            return super()._request(method, url, scopes, **kwargs)

    with pytest.raises(BuildCancelled):
        _build(registry, repo, artifact, client=Watched(registry.url, chunk_size=256 * 1024, monolithic_max=1024),
               cancelled=lambda: bool(patches))
    assert len(patches) == 1  # stopped after the first chunk of 21
    client = RegistryClient(registry.url)
    assert client.manifest_digest(repo, "1.0.0") is None


def test_missing_base_image(builtin_is, repo, artifact):
    registry, _ = builtin_is
    with pytest.raises(BaseImageNotFound, match="platform/jre:99 is not in its registry"):
        _build(registry, repo, artifact, build_args={"BASE": "platform/jre:99"})


def test_base_image_from_another_registry_is_copied(builtin_is, repo, artifact, tmp_path):
    registry, _ = builtin_is
    other = start_registry(tmp_path)
    try:
        from applications.oci.base_images import seed_base_images

        with RegistryClient(other.url) as other_client:
            seeded = dict(((n, t), d) for n, t, d in seed_base_images(other_client, namespace="mirror",
                                                                     only=["jre"]))
        clients = {other.host: RegistryClient(other.url), registry.host: _client(registry)}
        result = _build(registry, repo, artifact, build_args={"BASE": f"{other.host}/mirror/jre:17"},
                        base_client_for=clients.__getitem__)
        assert result.base_digest == seeded[("mirror/jre", "17")]
        assert (result.blobs_uploaded, result.blobs_reused) == (5, 0)  # 2 base layers copied over
        pulled = RegistryClient(registry.url).get_manifest(repo, "1.0.0")
        for layer in pulled.layers:
            assert RegistryClient(registry.url).head_blob(repo, layer["digest"]) == layer["size"]
    finally:
        stop_registry(other)


def test_target_must_not_name_a_digest(builtin_is, artifact):
    registry, _ = builtin_is
    with pytest.raises(Exception, match="names a digest"):
        _build(registry, "acme/x", artifact, target=parse(f"{registry.host}/acme/x@sha256:{'a' * 64}"))


def test_docker_schema2_and_multi_platform_bases(builtin_is, repo, tmp_path):
    """A base pushed in Docker's media types, and one behind a multi-platform index."""
    import gzip
    import hashlib
    import io

    registry, _ = builtin_is
    client = RegistryClient(registry.url)

    def digest(data):
        return "sha256:" + hashlib.sha256(data).hexdigest()

    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as archive:
        passwd = b"root:x:0:0::/root:/bin/sh\nsvc:x:700:701::/:/bin/false\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        archive.addfile(info, io.BytesIO(passwd))
    layer = gzip.compress(tar.getvalue(), mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/bin"]},
                         "rootfs": {"type": "layers", "diff_ids": [digest(tar.getvalue())]},
                         "history": [{"created_by": "ADD rootfs"}]}).encode()
    client.push_blob(f"{repo}-base", layer)
    client.push_blob(f"{repo}-base", config)
    docker_manifest = {"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
                       "config": {"mediaType": mt.DOCKER_CONFIG, "digest": digest(config), "size": len(config)},
                       "layers": [{"mediaType": mt.DOCKER_LAYER_GZIP, "digest": digest(layer), "size": len(layer)}]}
    amd64 = client.push_manifest(f"{repo}-base", "docker", docker_manifest)
    index = {"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST, "manifests": [
        {"mediaType": mt.DOCKER_MANIFEST, "digest": amd64, "size": len(json.dumps(docker_manifest,
                                                                                   separators=(",", ":"))),
         "platform": {"os": "linux", "architecture": "amd64"}}]}
    client.push_manifest(f"{repo}-base", "multi", index)

    for tag in ("docker", "multi"):
        result = build_image(dockerfile=f"FROM {repo}-base:{tag}\nCOPY --chown=svc app /srv/app\n",
                             context_files={"app": b"x"}, target=ImageRef(registry.host, repo, tag), client=client)
        assert result.base_digest == amd64
        pushed = client.get_manifest(repo, tag)
        assert pushed.media_type == mt.OCI_MANIFEST
        assert [layer["mediaType"] for layer in pushed.layers] == [mt.OCI_LAYER_GZIP, mt.OCI_LAYER_GZIP]
        with tarfile.open(client.get_blob(repo, pushed.layers[1]["digest"], tmp_path / tag)) as archive:
            app = archive.getmember("srv/app")
            assert (app.uid, app.gid) == (700, 701)  # the user's primary group, from the base's passwd


def test_too_many_layers_is_refused(builtin_is, repo):
    from applications.oci.builder import BuildError

    registry, _ = builtin_is
    dockerfile = "FROM platform/jre:17\n" + "COPY a /a\n" * 126
    with pytest.raises(BuildError, match="128 layers; runtimes accept at most 127"):
        build_image(dockerfile=dockerfile, context_files={"a": b"1"}, target=ImageRef(registry.host, repo, "x"),
                    client=RegistryClient(registry.url))
