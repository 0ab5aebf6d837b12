"""Reproducible layers: the same files give byte-identical tarballs with fixed times and owners."""
import gzip
import hashlib
import io
import tarfile
import tracemalloc

import pytest

from applications.oci import layers as ly


def _entries(tmp_path):
    jar = tmp_path / "app.jar"
    jar.write_bytes(b"PK\x03\x04" + b"x" * 5000)
    jar.chmod(0o600)  # an upload's mode says nothing about the image's
    binary = tmp_path / "server"
    binary.write_bytes(b"\x7fELF" + b"\x00" * 100)
    binary.chmod(0o644)
    return [
        ly.Entry("/app/lib/app.jar", source=jar),
        ly.Entry("/usr/local/bin/server", source=binary),
        ly.Entry("/app/config/application.yml", source=b"port: 8080\n"),
        ly.Entry("/app/run.sh", source=b"#!/bin/sh\nexec java -jar /app/lib/app.jar\n"),
        ly.Entry("/data/owned.txt", source=b"x", uid=10001, gid=10001),
        ly.Entry("/app/tool", source=b"data", mode=0o700),
    ]


def test_byte_identical_twice(tmp_path):
    entries = _entries(tmp_path)
    first = ly.write_layer(entries, tmp_path / "one.tar.gz")
    second = ly.write_layer(list(reversed(entries)), tmp_path / "two.tar.gz")  # order of the COPY sources
    assert first.path.read_bytes() == second.path.read_bytes()
    assert (first.digest, first.diff_id, first.size) == (second.digest, second.diff_id, second.size)
    raw = first.path.read_bytes()
    assert first.digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert first.size == len(raw)
    assert first.diff_id == "sha256:" + hashlib.sha256(gzip.decompress(raw)).hexdigest()
    # gzip header: no file name flag, mtime 0.
    assert raw[:3] == b"\x1f\x8b\x08" and raw[3] & 0x08 == 0 and raw[4:8] == b"\x00\x00\x00\x00"
    assert first.descriptor() == {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                  "digest": first.digest, "size": first.size}


def test_entries_sorted_with_parents_fixed_times_owners_and_modes(tmp_path):
    layer = ly.write_layer(_entries(tmp_path), tmp_path / "l.tar.gz")
    with tarfile.open(layer.path) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert names == ["app", "app/config", "app/config/application.yml", "app/lib", "app/lib/app.jar",
                     "app/run.sh", "app/tool", "data", "data/owned.txt", "usr", "usr/local", "usr/local/bin",
                     "usr/local/bin/server"]
    by_name = {m.name: m for m in members}
    assert {m.mtime for m in members} == {ly.EPOCH}
    assert {m.uname for m in members} == {""} and {m.gname for m in members} == {""}
    assert by_name["data/owned.txt"].uid == 10001 and by_name["data/owned.txt"].gid == 10001
    assert {(m.uid, m.gid) for n, m in by_name.items() if n != "data/owned.txt"} == {(0, 0)}
    assert all(m.mode == 0o755 for m in members if m.isdir())
    assert by_name["app/lib/app.jar"].mode == 0o644
    assert by_name["app/config/application.yml"].mode == 0o644
    assert by_name["usr/local/bin/server"].mode == 0o755  # an ELF binary runs without --chmod
    assert by_name["app/run.sh"].mode == 0o755  # so does a #! script
    assert by_name["app/tool"].mode == 0o700  # an explicit mode (--chmod) wins
    assert by_name["app/lib/app.jar"].size == 5004


def test_executable_bit_on_disk_is_kept(tmp_path):
    script = tmp_path / "tool"
    script.write_bytes(b"plain")
    script.chmod(0o750)
    layer = ly.write_layer([ly.Entry("/bin/tool", source=script)], tmp_path / "l.tar.gz")
    with tarfile.open(layer.path) as tar:
        assert tar.getmember("bin/tool").mode == 0o755


def test_a_later_entry_for_the_same_path_wins_and_conflicts_are_refused(tmp_path):
    layer = ly.write_layer([ly.Entry("/a/x", source=b"1"), ly.Entry("/a/x", source=b"2")], tmp_path / "l.tar.gz")
    with tarfile.open(layer.path) as tar:
        assert tar.extractfile("a/x").read() == b"2"
    with pytest.raises(ValueError, match="is a file in this layer"):
        ly.plan_entries([ly.Entry("/a", source=b"1"), ly.Entry("/a/b", source=b"2")])
    with pytest.raises(ValueError, match="leaves the image root"):
        ly.normalise_path("/../etc/passwd")
    with pytest.raises(ValueError, match="names the image root"):
        ly.normalise_path("/./")


def test_bounded_memory_for_a_large_file(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:  # 96 MiB, written in pieces
        block = bytes(range(256)) * 4096
        for _ in range(96):
            f.write(block)
    tracemalloc.start()
    try:
        layer = ly.write_layer([ly.Entry("/app/big.bin", source=big)], tmp_path / "big.tar.gz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak {peak} bytes of Python memory for a 96 MiB file"
    with tarfile.open(layer.path) as tar:
        assert tar.getmember("app/big.bin").size == 96 * 1024 * 1024


def _tar(files: dict) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_read_files_from_the_top_layer_down_with_whiteouts(tmp_path):
    lower = tmp_path / "lower.tar.gz"
    lower.write_bytes(_tar({"etc/passwd": b"old", "etc/group": b"g-old", "opt/x/file": b"x"}))
    upper = tmp_path / "upper.tar.gz"
    upper.write_bytes(_tar({"./etc/passwd": b"new", "etc/.wh.group": b"", "opt/x/.wh..wh..opq": b""}))
    found = ly.read_files([lower, upper], {"etc/passwd", "etc/group", "opt/x/file"})
    assert found == {"etc/passwd": b"new"}
    assert ly.read_files([lower], {"etc/group"}) == {"etc/group": b"g-old"}


def test_incompressible_layers_are_stored_compressible_ones_deflated(tmp_path):
    import random

    noise = tmp_path / "noise.jar"
    noise.write_bytes(random.Random(1).randbytes(1024 * 1024))
    text = tmp_path / "text.txt"
    text.write_bytes(b"the same line again\n" * 60000)
    assert ly.compress_level([ly.Entry("/a", source=noise)]) == 0
    assert ly.compress_level([ly.Entry("/a", source=text)]) == ly.COMPRESS_LEVEL
    assert ly.compress_level([ly.Entry("/a", source=b"tiny")]) == ly.COMPRESS_LEVEL
    stored = ly.write_layer([ly.Entry("/a", source=noise)], tmp_path / "s.tar.gz")
    assert stored.size > 1024 * 1024  # stored blocks: a little bigger than the file, still gzip
    assert gzip.decompress(stored.path.read_bytes())[512:1024] == noise.read_bytes()[:512]
    again = ly.write_layer([ly.Entry("/a", source=noise)], tmp_path / "s2.tar.gz")
    assert again.digest == stored.digest
    deflated = ly.write_layer([ly.Entry("/a", source=text)], tmp_path / "d.tar.gz")
    assert deflated.size < 100_000
