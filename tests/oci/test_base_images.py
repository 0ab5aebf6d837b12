"""The platform's base images: built locally, reproducible, with the users and config apps expect."""
import io
import json
import tarfile

import pytest
from django.core.management import call_command

from applications.oci.base_images import APP_UID, BASE_IMAGES
from applications.oci.client import RegistryClient


def _files(client, repo, manifest):
    files = {}
    for layer in manifest.layers:
        blob = client.get_blob(repo, layer["digest"], max_bytes=8 * 1024 * 1024)
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            for member in tar.getmembers():
                files[member.name] = (member, tar.extractfile(member).read() if member.isfile() else None)
    return files


def test_all_base_images_seeded_with_users_runtime_and_config(seeded_registry):
    registry, digests = seeded_registry
    assert sorted(digests) == ["platform/distroless-static:1", "platform/jre:17", "platform/nginx:1.27",
                               "platform/node:20", "platform/python:3.12"]
    client = RegistryClient(registry.url)
    etc_layers = set()
    for spec in BASE_IMAGES:
        repo = f"platform/{spec.name}"
        manifest = client.get_manifest(repo, spec.tag)
        assert manifest.digest == digests[f"{repo}:{spec.tag}"]
        etc_layers.add(manifest.layers[0]["digest"])
        config = json.loads(client.get_blob(repo, manifest.config["digest"]))
        assert (config["os"], config["architecture"]) == ("linux", "amd64")
        assert config["config"].get("User", "") == ""  # root, as official base images; apps switch to app
        assert any(e.startswith("PATH=") for e in config["config"]["Env"])
        assert config["config"]["WorkingDir"]
        assert config["config"]["Labels"]["io.stratus.base.simulated"] == "true"
        files = _files(client, repo, manifest)
        passwd = files["etc/passwd"][1].decode()
        assert f"app:x:{APP_UID}:{APP_UID}:" in passwd and passwd.startswith("root:x:0:0:")
        assert f"app:x:{APP_UID}:" in files["etc/group"][1].decode()
        assert b"Stratus" in files["etc/os-release"][1]
    assert len(etc_layers) == 1  # the same /etc layer in every image: stored once

    jre = _files(client, "platform/jre", client.get_manifest("platform/jre", "17"))
    member, content = jre["opt/java/bin/java"]
    assert member.mode == 0o755 and b"simulated" in content
    jre_config = json.loads(client.get_blob("platform/jre", client.get_manifest("platform/jre", "17").config["digest"]))
    assert "JAVA_HOME=/opt/java" in jre_config["config"]["Env"]
    nginx = _files(client, "platform/nginx", client.get_manifest("platform/nginx", "1.27"))
    assert b"listen 8080" in nginx["etc/nginx/conf.d/default.conf"][1]
    nginx_config = json.loads(client.get_blob("platform/nginx",
                                              client.get_manifest("platform/nginx", "1.27").config["digest"]))
    assert nginx_config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert nginx_config["config"]["StopSignal"] == "SIGQUIT"


def test_seeding_is_reproducible_and_the_command_prints_digests(seeded_registry, tmp_path, capsys):
    from applications.oci import localregistry

    registry, digests = seeded_registry
    with localregistry.start(tmp_path / "other") as other:  # another registry, from nothing
        call_command("oci_seed_base_images", "--registry", other.url)
        printed = capsys.readouterr().out
    for reference, digest in digests.items():
        assert f"{reference}  {digest}" in printed


@pytest.mark.django_db
def test_command_records_digests_in_base_image_rows(seeded_registry, capsys):
    from applications.models import BaseImage

    registry, digests = seeded_registry
    row = BaseImage.objects.create(name="platform/jre", tag="17", stack="java")
    call_command("oci_seed_base_images", "--registry", registry.url, "--only", "jre", "--record")
    row.refresh_from_db()
    assert row.digest == digests["platform/jre:17"]
    assert "recorded platform/jre:17" in capsys.readouterr().out


def test_command_reports_an_unreachable_registry():
    from django.core.management.base import CommandError

    from applications.oci.localregistry import free_port

    with pytest.raises(CommandError, match="UNREACHABLE"):
        call_command("oci_seed_base_images", "--registry", f"127.0.0.1:{free_port()}", "--only", "jre")
