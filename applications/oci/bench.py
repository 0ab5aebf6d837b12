"""Build benchmark: a 50 MiB artifact built on platform/jre:17 and pushed, against skopeo.

    python manage.py bench --only build [--build-against builtin,debian] [--build-size-mib 50]
    python manage.py bench --only build --build-registry URL [--build-username U --build-password P]

One column per registry:
- ``builtin``: the product's own registry (/v2/), served by a real daphne started as `runall` starts
  it, on a temporary SQLite database (paas.bench_stack.Stack). platform/jre:17 is seeded with a
  system registry token (auth.issue_token); the builds and skopeo push as the bench tenant's
  developer (username + write API token, the Bearer token flow), to ``bench/...``;
- ``debian``: Debian's docker-registry (CNCF distribution) on a free port, no auth, storage in a
  temp dir, when /usr/bin/docker-registry is installed (otherwise the column is left out, saying so);
- ``--build-registry URL``: that registry alone (e.g. a Harbor), with the given credentials.

Rows:
- the native build of a seeded random (incompressible) artifact on platform/jre:17, pushed to a
  repository that is new (the base layers are mounted, the artifact uploaded): seconds, MB/s,
  blobs uploaded/reused;
- ``skopeo copy`` of an image of the same size (another random layer, from an ``oci:`` layout on
  local disk) to the same registry with the same credentials: what a plain push of those bytes
  takes; without skopeo installed the rows say so and there is no ratio;
- their ratio (build / skopeo: the price of making the layer, tar + gzip + two SHA-256s, plus any
  difference in how the client pushes);
- the same build again: new blobs uploaded (0 expected) and whether the digest is the same;
- peak traced Python memory of a build (a third, traced run: tracemalloc slows it down);
- the registry process's RSS (/proc, sampled every 20 ms): baseline, and its peak during the
  build + push and during the skopeo copy (blobs should stream through it, not sit in memory);
- the image digest (one per registry: the image's org.opencontainers.image.base.name label names
  the base by its registry's address).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import subprocess
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

from paas.bench_stack import BenchError, Sampler, Stack, baseline_rss_kib

from . import layers as ly
from . import localregistry
from . import mediatypes as mt
from .base_images import seed_base_images
from .builder import build_image
from .client import RegistryClient, encode_json
from .errors import RegistryError
from .references import ImageRef

MIB = 1024 * 1024
REGISTRIES = ("builtin", "debian")
DOCKERFILE = """\
FROM platform/jre:17
WORKDIR /app
COPY --chown=app:app app.jar /app/app.jar
USER app
EXPOSE 8080
ENTRYPOINT ["java", "-jar", "/app/app.jar"]
"""


def add_arguments(parser) -> None:
    group = parser.add_argument_group("build (native image builder, issue 10)")
    group.add_argument("--build-against", default=REGISTRIES, type=_registries, metavar="builtin,debian",
                       help="registries measured, one column each: builtin (the product's, on a temporary "
                            "database), debian (Debian's docker-registry) (default builtin,debian)")
    group.add_argument("--build-registry", default=None,
                       help="measure this registry URL alone instead (e.g. a Harbor)")
    group.add_argument("--build-username", default=None, help="user name for --build-registry")
    group.add_argument("--build-password", default=None, help="password or API token for --build-registry")
    group.add_argument("--build-size-mib", type=int, default=50, help="artifact size in MiB (default 50)")


def _registries(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(set(names) - set(REGISTRIES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose among {', '.join(REGISTRIES)} (got {text!r})")
    return names


@dataclass
class Target:
    """A registry to measure: where it answers, who pushes, and which process serves it."""

    label: str
    url: str
    username: str | None = None
    password: str | None = None
    seed_token: str | None = None  # pushes platform/jre (None: username + password do)
    pid: int | None = None  # the registry's process, whose RSS is sampled (None: not on this machine)


@dataclass
class Inputs:
    artifact: Path  # what the build adds
    layout: Path  # what skopeo copies: an OCI layout with a layer of the same size
    size_mib: int


def _random_file(path: Path, size: int, seed: int) -> Path:
    rng = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = min(MIB, left)
            f.write(rng.randbytes(chunk))
            left -= chunk
    return path


def _oci_layout(directory: Path, payload: Path) -> None:
    """An OCI image layout with one layer holding ``payload`` (what skopeo copies)."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    layer = ly.write_layer([ly.Entry("/app/app.jar", source=payload)], blobs / "layer.tmp")
    layer.path.rename(blobs / layer.digest.split(":")[1])
    config = encode_json({"architecture": "amd64", "os": "linux", "created": ly.EPOCH_ISO,
                          "config": {"Entrypoint": ["java", "-jar", "/app/app.jar"]},
                          "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}})
    (blobs / mt.sha256_digest(config).split(":")[1]).write_bytes(config)
    manifest = encode_json({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                            "config": {"mediaType": mt.OCI_CONFIG, "digest": mt.sha256_digest(config),
                                       "size": len(config)},
                            "layers": [layer.descriptor()]})
    (blobs / mt.sha256_digest(manifest).split(":")[1]).write_bytes(manifest)
    (directory / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (directory / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": mt.OCI_MANIFEST, "digest": mt.sha256_digest(manifest), "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}))


def _build(client, host, artifact, repository, *, traced: bool = False):
    """One build; with ``traced``, the peak of Python memory it allocated (tracemalloc slows it down,
    so timed runs are not traced)."""
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        result = build_image(dockerfile=DOCKERFILE, artifact=artifact, artifact_name="app.jar",
                             target=ImageRef(host, repository, "bench"), client=client,
                             build_id="bench", builder="native", provenance={"startedBy": "bench"})
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
    finally:
        if traced:
            tracemalloc.stop()
    return result, seconds, peak


def _skopeo_copy(layout: Path, host: str, repository: str, username, password, insecure: bool,
                 out=print) -> float | None:
    """Seconds ``skopeo copy`` took; None (said in ``out``) when skopeo is missing or failed."""
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        return None
    command = [skopeo, "copy", "--quiet", f"--dest-tls-verify={'false' if insecure else 'true'}"]
    if username is not None:
        command.append(f"--dest-creds={username}:{password or ''}")
    command += [f"oci:{layout}:bench", f"docker://{host}/{repository}:bench"]
    started = time.perf_counter()
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)  # noqa: S603 - argv built here
    except subprocess.CalledProcessError as exc:
        out(f"  skopeo copy to {host} failed: {exc.stderr.strip()[-500:]}")
        return None
    except subprocess.TimeoutExpired:
        out(f"  skopeo copy to {host} took more than 600 s: no ratio")
        return None
    return time.perf_counter() - started


@contextlib.contextmanager
def _builtin(out):
    with Stack(out, prefix="paas-bench-build-") as stack:
        setup = stack.setup()
        pid = stack.start_web()
        yield Target("built-in (daphne)", stack.url, username=setup["username"], password=setup["token"],
                     seed_token=setup["seed_token"], pid=pid)


@contextlib.contextmanager
def _debian(tmp: Path):
    registry = localregistry.start(tmp / "registry")
    try:
        yield Target("Debian docker-registry", registry.url, pid=registry.process.pid)
    finally:
        registry.stop()


@contextlib.contextmanager
def _given(url: str, username: str | None, password: str | None):
    yield Target(url, url, username=username, password=password)


def _sampling(pid: int | None):
    return Sampler(pid) if pid else contextlib.nullcontext()


def _peak_mib(sampler) -> float | None:
    return sampler.peak / 1024 if sampler is not None else None


def measure(target: Target, inputs: Inputs, out=print) -> dict:
    """Every figure of one column."""
    from django.conf import settings

    if target.seed_token:
        seeder = RegistryClient(target.url, token=target.seed_token)
    else:
        seeder = RegistryClient(target.url, username=target.username, password=target.password)
    client = RegistryClient(target.url, username=target.username, password=target.password)
    host = client.host
    repository = f"bench/app-{int(time.time())}"
    previous_host = settings.REGISTRY_HOST
    settings.REGISTRY_HOST = host  # FROM platform/jre:17 means this registry here
    try:
        with seeder:
            seed_base_images(seeder, only=["jre"])
        baseline = baseline_rss_kib(target.pid) / 1024 if target.pid else None
        with _sampling(target.pid) as during_build:
            first, build_seconds, _ = _build(client, host, inputs.artifact, repository)
        again, again_seconds, _ = _build(client, host, inputs.artifact, repository)
        _, _, peak = _build(client, host, inputs.artifact, repository + "-traced", traced=True)
    finally:
        settings.REGISTRY_HOST = previous_host
        client.close()
    with _sampling(target.pid) as during_copy:
        skopeo_seconds = _skopeo_copy(inputs.layout, host, f"bench/skopeo-{int(time.time())}", target.username,
                                      target.password, client.insecure, out)
    return {"build_seconds": build_seconds, "skopeo_seconds": skopeo_seconds,
            "ratio": build_seconds / skopeo_seconds if skopeo_seconds else None,
            "rebuild_seconds": again_seconds, "rebuild_uploaded": again.blobs_uploaded,
            "same_digest": again.digest == first.digest, "digest": first.digest, "image": first.image,
            "size": first.size, "peak_bytes": peak, "uploaded": first.blobs_uploaded, "reused": first.blobs_reused,
            "rss_baseline_mib": baseline, "rss_build_mib": _peak_mib(during_build),
            "rss_copy_mib": _peak_mib(during_copy) if skopeo_seconds is not None else None}


def _cell(value, spec: str = ".2f") -> str:
    return "-" if value is None else f"{value:{spec}}"


def _rss(figures: dict, key: str) -> str:
    peak, baseline = figures[key], figures["rss_baseline_mib"]
    return "-" if peak is None or baseline is None else f"{peak:.0f} ({peak - baseline:+.0f})"


def table(columns: dict[str, dict], size_mib: int) -> list[str]:
    """The printed table: a row per figure, a column per registry."""
    megabytes = size_mib * MIB / 1e6
    rows = [
        (f"build + push, {size_mib} MiB artifact (s)", lambda f: _cell(f["build_seconds"])),
        ("build + push (MB/s)", lambda f: _cell(megabytes / f["build_seconds"], ".1f")),
        ("build + push: blobs uploaded / reused", lambda f: f"{f['uploaded']} / {f['reused']}"),
        (f"skopeo copy of a {size_mib} MiB image (s)", lambda f: _cell(f["skopeo_seconds"])),
        ("skopeo copy (MB/s)",
         lambda f: _cell(megabytes / f["skopeo_seconds"] if f["skopeo_seconds"] else None, ".1f")),
        ("ratio build / skopeo copy", lambda f: _cell(f["ratio"])),
        ("same build again (s)", lambda f: _cell(f["rebuild_seconds"])),
        ("same build again: blobs uploaded", lambda f: str(f["rebuild_uploaded"])),
        ("same build again: digest", lambda f: "same" if f["same_digest"] else "DIFFERENT"),
        ("peak Python memory of a build (MB, tracemalloc)", lambda f: _cell(f["peak_bytes"] / 1e6, ".1f")),
        ("registry process RSS: baseline (MiB)", lambda f: _cell(f["rss_baseline_mib"], ".0f")),
        ("  peak during build + push (MiB, +growth)", lambda f: _rss(f, "rss_build_mib")),
        ("  peak during skopeo copy (MiB, +growth)", lambda f: _rss(f, "rss_copy_mib")),
        ("image size (MB)", lambda f: _cell(f["size"] / 1e6, ".1f")),
        ("image digest (first 12 hex digits)", lambda f: f["digest"][:19]),
    ]
    width = max(24, *(len(label) + 2 for label in columns))
    lines = [f"  {'':48}" + "".join(f"{label:>{width}}" for label in columns)]
    for label, value in rows:
        lines.append(f"  {label:48}" + "".join(f"{value(figures):>{width}}" for figures in columns.values()))
    return lines


def _targets(against, tmp: Path, out, registry_url, username, password):
    """(name, context manager giving a Target) for each registry to measure, saying what is left out."""
    if registry_url is not None:
        return [(registry_url, _given(registry_url, username, password))]
    chosen = []
    for name in against:
        if name == "builtin":
            chosen.append(("built-in registry", _builtin(out)))
        elif name == "debian" and localregistry.binary() is None:
            out("  docker-registry not installed (Debian package docker-registry): no Debian column")
        elif name == "debian":
            chosen.append(("Debian docker-registry", _debian(tmp)))
    return chosen


def run(*, out=print, against=REGISTRIES, registry_url: str | None = None, username: str | None = None,
        password: str | None = None, size_mib: int = 50, seed: int = 1) -> dict[str, dict]:
    """Measure each registry in turn and print the table; returns {column label: figures}. A registry
    that cannot be measured is reported and left out: the other columns still come."""
    columns = {}
    with tempfile.TemporaryDirectory(prefix="oci-bench-") as tmp:
        tmp = Path(tmp)
        inputs = Inputs(_random_file(tmp / "app.jar", size_mib * MIB, seed), tmp / "layout", size_mib)
        _oci_layout(inputs.layout, _random_file(tmp / "other.jar", size_mib * MIB, seed + 1))
        if shutil.which("skopeo") is None:
            out("  skopeo not installed (Debian package skopeo): no skopeo copy, no ratio")
        for name, opening in _targets(against, tmp, out, registry_url, username, password):
            try:
                with opening as target:
                    out(f"  {target.label}: {target.url}")
                    columns[target.label] = measure(target, inputs, out)
            except (BenchError, RegistryError, localregistry.RegistryNotAvailable) as exc:
                out(f"  {name}: not measured: {exc}")
    if columns:
        for line in table(columns, size_mib):
            out(line)
    return columns


def run_from_options(options: dict, out=print) -> dict[str, dict]:
    return run(out=out, against=options.get("build_against") or REGISTRIES, registry_url=options.get("build_registry"),
               username=options.get("build_username"), password=options.get("build_password"),
               size_mib=options.get("build_size_mib") or 50)
