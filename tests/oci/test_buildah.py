"""BUILDER=buildah: the same contract as the native builder, with RUN, through buildah bud/push.

buildah works on this project's machine kind (root in a container, vfs storage, chroot
isolation); CI installs it, so a missing buildah fails there instead of skipping.
"""
import json
import random
import subprocess
import tarfile
from pathlib import Path

import pytest

from applications.oci import buildah
from applications.oci import mediatypes as mt
from applications.oci.builder import BuildCancelled, BuildError, build_image
from applications.oci.client import RegistryClient
from applications.oci.references import ImageRef

from .conftest import need


@pytest.fixture(scope="module")
def shell_base(seeded_registry):
    """platform/shell:1, a base with this machine's /bin/sh (dash and its libraries), for RUN."""
    need("/usr/bin/buildah")
    registry, _ = seeded_registry
    ldd = subprocess.run(["ldd", "/usr/bin/dash"], capture_output=True, text=True).stdout
    libraries = [part for part in ldd.split() if part.startswith("/")]
    files = {"sh": Path("/usr/bin/dash").read_bytes()}
    lines = ["FROM scratch", "COPY sh /bin/sh"]
    for number, library in enumerate(libraries):
        files[f"lib{number}"] = Path(library).read_bytes()
        lines.append(f"COPY lib{number} {library}")
    with RegistryClient(registry.url) as client:
        build_image(dockerfile="\n".join(lines) + "\n", context_files=files, builder="native",
                    target=ImageRef(registry.host, "platform/shell", "1"), client=client)
    return registry


DOCKERFILE = """\
FROM platform/shell:1
ARG GREETING=hello
COPY app.jar /app/app.jar
RUN echo "$GREETING from RUN" > /app/ran.txt
USER 10001
ENTRYPOINT ["/bin/sh", "-c", "cat /app/ran.txt"]
"""


def _build(registry, repo, tmp_path, **kwargs):
    artifact = tmp_path / "upload"
    artifact.write_bytes(random.Random(5).randbytes(300_000))
    options = dict(dockerfile=DOCKERFILE, artifact=artifact, artifact_name="app.jar",
                   target=ImageRef(registry.host, repo, "b1"), client=RegistryClient(registry.url),
                   build_id="77", build_args={"GREETING": "hi"}, builder="buildah",
                   labels={"org.opencontainers.image.revision": "r1"}, provenance={"startedBy": "dev"})
    options.update(kwargs)
    return build_image(**options)


def test_check_passes_here():
    need("/usr/bin/buildah")
    results = buildah.check(log=lambda line: None)
    assert all(ok for _, ok, _ in results), results
    assert any(command.startswith("bud") and "Dockerfile.run" in command for command, _, _ in results)


def test_buildah_builds_run_reproducibly(shell_base, repo, tmp_path, settings):
    settings.REGISTRY_HOST = shell_base.host
    lines = []
    first = _build(shell_base, repo, tmp_path, log=lines.append)
    assert any("RUN echo" in line for line in lines)
    again = _build(shell_base, repo, tmp_path)
    assert again.digest == first.digest
    assert again.blobs_uploaded == 0 and again.blobs_reused >= 3

    client = RegistryClient(shell_base.url)
    assert client.manifest_digest(repo, "b1") == first.digest
    config = json.loads(client.get_blob(repo, first.config_digest))
    assert config["config"]["Labels"]["io.stratus.build.id"] == "77"
    assert config["config"]["Labels"]["org.opencontainers.image.base.digest"] == first.base_digest
    assert config["config"]["Labels"]["org.opencontainers.image.revision"] == "r1"
    assert config["config"]["User"] == "10001"
    last = first.manifest["layers"][-1]
    layer = client.get_blob(repo, last["digest"], tmp_path / "last.tar.gz")
    with tarfile.open(layer) as tar:
        assert tar.extractfile("app/ran.txt").read() == b"hi from RUN\n"
    found = client.referrers(repo, first.digest, artifact_type=mt.PROVENANCE)
    assert first.provenance_digest in [d["digest"] for d in found]
    assert first.provenance["builder"]["id"] == "buildah"


def test_buildah_failures_and_cancel(shell_base, repo, tmp_path, settings):
    settings.REGISTRY_HOST = shell_base.host
    with pytest.raises(BuildError, match="buildah bud failed"):
        _build(shell_base, repo, tmp_path, dockerfile="FROM platform/shell:1\nRUN exit 3\n")
    with pytest.raises(BuildCancelled):
        _build(shell_base, repo, tmp_path, dockerfile="FROM platform/shell:1\nRUN sleep 30\n",
               cancelled=lambda: True)
    assert RegistryClient(shell_base.url).manifest_digest(repo, "b1") is None


def test_unknown_builder_is_refused(tmp_path):
    with pytest.raises(BuildError, match="unknown builder"):
        build_image(dockerfile="FROM scratch\n", target=ImageRef("r:1", "a/b", "1"), client=RegistryClient("r:1"),
                    builder="kaniko")
