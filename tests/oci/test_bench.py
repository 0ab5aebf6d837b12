"""The build benchmark runs end to end (small artifact) and reports a reproducible rebuild."""
from applications.oci import bench

from .conftest import need


def test_bench_runs_against_docker_registry(settings):
    need("/usr/bin/docker-registry")
    lines = []
    figures = bench.run(out=lines.append, size_mib=2)
    assert figures["same_digest"] and figures["rebuild_uploaded"] == 0
    assert (figures["uploaded"], figures["reused"]) == (2, 2)  # new layer + config; jre's layers mounted
    assert figures["skopeo_seconds"] is None or figures["ratio"] > 0
    assert any(line.startswith("same build again") and "same digest" in line for line in lines)
    assert figures["peak_bytes"] < 32 * 1024 * 1024


def test_registered_as_bench_only_build(capsys):
    from django.core.management import call_command

    need("/usr/bin/docker-registry")
    call_command("bench", "--only", "build", "--build-size-mib", "1")
    out = capsys.readouterr().out
    assert "Image build (native builder, issue 10)" in out
    assert "same build again" in out and "same digest" in out
