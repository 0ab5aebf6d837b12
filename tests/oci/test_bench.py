"""The build benchmark (applications/oci/bench.py, `manage.py bench --only build`) runs end to end
with a small artifact against the product's own registry and Debian's, reports a reproducible
rebuild, and carries on, saying so, when skopeo or docker-registry are missing."""
import shutil

import pytest
from django.core.management import CommandError, call_command

from applications.oci import bench, localregistry

from .conftest import need


def _row(lines: list[str], label: str) -> list[str]:
    """The cells of the table row named ``label`` (one per registry column)."""
    for line in lines:
        if line.strip().startswith(label):
            return line.strip()[len(label):].split()
    raise AssertionError(f"no row {label!r} in:\n" + "\n".join(lines))


def test_the_builtin_registry_column(capsys):
    """The product's registry on a temporary database: seeded, built, rebuilt with nothing uploaded."""
    call_command("bench", "--only", "build", "--build-size-mib", "1", "--build-against", "builtin")
    lines = capsys.readouterr().out.splitlines()
    assert any("Image build (native builder, issue 10)" in line for line in lines)
    header = next(line for line in lines if "built-in (daphne)" in line and ":" not in line)
    assert "Debian" not in header
    assert _row(lines, "build + push: blobs uploaded / reused") == ["2", "/", "2"]  # layer + config; jre's mounted
    assert _row(lines, "same build again: blobs uploaded") == ["0"]
    assert _row(lines, "same build again: digest") == ["same"]
    rss = _row(lines, "peak during build + push (MiB, +growth)")
    assert len(rss) == 2 and rss[1].startswith("(+")  # the web process was sampled
    if shutil.which("skopeo"):
        assert float(_row(lines, "ratio build / skopeo copy")[0]) > 0  # skopeo pushed with the API token


def test_the_debian_registry_column(settings):
    need("/usr/bin/docker-registry")
    lines = []
    columns = bench.run(out=lines.append, size_mib=2, against=("debian",))
    figures = columns["Debian docker-registry"]
    assert figures["same_digest"] and figures["rebuild_uploaded"] == 0
    assert (figures["uploaded"], figures["reused"]) == (2, 2)
    assert figures["skopeo_seconds"] is None or figures["ratio"] > 0
    assert figures["peak_bytes"] < 32 * 1024 * 1024
    assert figures["rss_build_mib"] >= figures["rss_baseline_mib"] > 0


def test_missing_tools_are_said_not_fatal(monkeypatch):
    monkeypatch.setattr(localregistry, "binary", lambda: None)
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    lines = []
    assert bench.run(out=lines.append, size_mib=1, against=("debian",)) == {}
    assert "skopeo not installed (Debian package skopeo): no skopeo copy, no ratio" in "\n".join(lines)
    assert any("docker-registry not installed" in line and "no Debian column" in line for line in lines)


def test_a_column_without_skopeo_has_no_ratio():
    figures = {"build_seconds": 2.0, "skopeo_seconds": None, "ratio": None, "rebuild_seconds": 1.0,
               "rebuild_uploaded": 0, "same_digest": True, "digest": "sha256:" + "a" * 64, "size": 10**6,
               "peak_bytes": 3 * 10**6, "uploaded": 2, "reused": 2, "rss_baseline_mib": None,
               "rss_build_mib": None, "rss_copy_mib": None}
    lines = bench.table({"somewhere": figures}, size_mib=1)
    assert _row(lines, "ratio build / skopeo copy") == ["-"]
    assert _row(lines, "skopeo copy (MB/s)") == ["-"]
    assert _row(lines, "build + push (MB/s)") == ["0.5"]


def test_unknown_registry_is_refused_by_the_command():
    with pytest.raises(CommandError, match="builtin, debian"):
        call_command("bench", "--only", "build", "--build-against", "harbor")
