"""Build benchmark: a 50 MiB artifact built on platform/jre:17 and pushed, against skopeo.

    python manage.py bench --only build [--build-registry URL] [--build-size-mib 50]

Rows:
- the native build of a seeded random (incompressible) artifact on platform/jre:17, pushed to a
  registry whose repository is new (the base layers are mounted, the artifact uploaded): seconds,
  MB/s, blobs uploaded/reused, peak traced Python memory of the builder;
- ``skopeo copy`` of an image of the same size (another random layer, from an ``oci:`` layout on
  local disk) to the same registry: the time a plain push of those bytes takes;
- their ratio (build / skopeo: the price of making the layer, tar + gzip + two SHA-256s);
- the same build again: new blobs uploaded (0 expected) and whether the digest is the same.

Without ``--build-registry`` a Debian docker-registry is started on a free port with its storage
in a temp dir (the registry is a parameter: the built-in one can be measured the same way).
"""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

from . import layers as ly
from . import localregistry
from . import mediatypes as mt
from .base_images import seed_base_images
from .builder import build_image
from .client import RegistryClient, encode_json
from .references import ImageRef

MIB = 1024 * 1024
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
    group.add_argument("--build-registry", default=None,
                       help="registry URL to push to (default: start Debian's docker-registry on a free port)")
    group.add_argument("--build-username", default=None, help="user name for --build-registry")
    group.add_argument("--build-password", default=None, help="password or API token for --build-registry")
    group.add_argument("--build-size-mib", type=int, default=50, help="artifact size in MiB (default 50)")


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


def _skopeo_copy(layout: Path, host: str, repository: str, username, password, insecure: bool) -> float | None:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        return None
    command = [skopeo, "copy", "--quiet", f"--dest-tls-verify={'false' if insecure else 'true'}"]
    if username is not None:
        command.append(f"--dest-creds={username}:{password or ''}")
    command += [f"oci:{layout}:bench", f"docker://{host}/{repository}:bench"]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=600)  # noqa: S603 - argv built here
    return time.perf_counter() - started


def run(*, out=print, registry_url: str | None = None, username: str | None = None,
        password: str | None = None, size_mib: int = 50, seed: int = 1) -> dict:
    from django.conf import settings

    size = size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="oci-bench-") as tmp:
        tmp = Path(tmp)
        registry = None
        if registry_url is None:
            registry = localregistry.start(tmp / "registry")
            registry_url = registry.url
            out(f"registry: Debian docker-registry at {registry.url} (storage in a temp dir)")
        else:
            out(f"registry: {registry_url}")
        try:
            client = RegistryClient(registry_url, username=username, password=password)
            host = client.host
            previous_host = settings.REGISTRY_HOST
            settings.REGISTRY_HOST = host  # FROM platform/jre:17 means this registry here
            try:
                seed_base_images(client, only=["jre"])
                artifact = _random_file(tmp / "app.jar", size, seed)
                repository = f"bench/app-{int(time.time())}"
                first, build_seconds, _ = _build(client, host, artifact, repository)
                again, again_seconds, _ = _build(client, host, artifact, repository)
                _, _, peak = _build(client, host, artifact, repository + "-traced", traced=True)
            finally:
                settings.REGISTRY_HOST = previous_host
            layout = tmp / "layout"
            _oci_layout(layout, _random_file(tmp / "other.jar", size, seed + 1))
            skopeo_seconds = _skopeo_copy(layout, host, f"bench/skopeo-{int(time.time())}", username, password,
                                          client.insecure)
        finally:
            if registry is not None:
                registry.stop()

    megabytes = size / 1e6
    out(f"{'step':44} {'seconds':>8} {'MB/s':>7} {'uploaded':>9} {'reused':>7}")
    out(f"{f'native build + push ({size_mib} MiB artifact)':44} {build_seconds:8.2f} "
        f"{megabytes / build_seconds:7.1f} {first.blobs_uploaded:9} {first.blobs_reused:7}")
    if skopeo_seconds is not None:
        out(f"{f'skopeo copy oci: -> registry ({size_mib} MiB)':44} {skopeo_seconds:8.2f} "
            f"{megabytes / skopeo_seconds:7.1f}")
        out(f"{'ratio build / skopeo copy':44} {build_seconds / skopeo_seconds:8.2f}")
    else:
        out("skopeo copy: skopeo is not installed (Debian package skopeo); no ratio")
    same = "same digest" if again.digest == first.digest else "DIFFERENT digest"
    out(f"{'same build again':44} {again_seconds:8.2f} {megabytes / again_seconds:7.1f} "
        f"{again.blobs_uploaded:9} {again.blobs_reused:7}  {same}")
    out(f"{'peak Python memory of a build (tracemalloc)':44} {peak / 1e6:8.1f} MB")
    out(f"image: {first.image} ({first.size / 1e6:.1f} MB)")
    return {"build_seconds": build_seconds, "skopeo_seconds": skopeo_seconds,
            "ratio": build_seconds / skopeo_seconds if skopeo_seconds else None,
            "rebuild_seconds": again_seconds, "rebuild_uploaded": again.blobs_uploaded,
            "same_digest": again.digest == first.digest, "digest": first.digest,
            "peak_bytes": peak, "uploaded": first.blobs_uploaded, "reused": first.blobs_reused}


def run_from_options(options: dict, out=print) -> dict:
    return run(out=out, registry_url=options.get("build_registry"), username=options.get("build_username"),
               password=options.get("build_password"), size_mib=options.get("build_size_mib") or 50)
