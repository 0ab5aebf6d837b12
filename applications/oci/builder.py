"""``build_image``: base image + the Dockerfile's files and settings -> an image in a registry.

No daemon and no container, the way ko and Jib build: the base image's manifest and config
are fetched, every COPY/ADD becomes one new reproducible layer, the config gets the
Dockerfile's settings and the platform's labels, then blobs, config and an OCI image manifest
are pushed, and the provenance record is pushed next to the image as an OCI 1.1 artifact whose
``subject`` is the image.

The image holds nothing about who built it or when (fixed timestamps, no host names), so the
same inputs give the same digest; the build id label is one of those inputs (a retried build
keeps its id and digest; another build of the same inputs differs only in its config blob).
Who and when go into the provenance artifact, which may differ between builds.
"""
from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import dockerfile as df
from . import layers as ly
from . import mediatypes as mt
from .client import EXISTING, MOUNTED, UPLOADED, RegistryClient, RegistryError, encode_json
from .context import BuildContext, ContextError
from .references import ImageRef, parse

BUILDER_ID = "stratus-native"
BUILDER_VERSION = "1"
MAX_LAYERS = 127  # overlayfs' limit, which container runtimes inherit
# Base config keys not carried over: set here, or Docker's legacy builder's (the build container's).
_NOT_INHERITED = ("container", "container_config", "docker_version", "id", "parent", "created", "history",
                       "rootfs", "config", "author", "architecture", "os")


class BuildError(Exception):
    """A build that cannot go on, said in words for the build log."""


class BaseImageNotFound(BuildError):
    pass


class BuildCancelled(BuildError):
    pass


@dataclass
class BuildResult:
    digest: str  # the image manifest's digest
    size: int  # config + layers (compressed), what a pull transfers at most
    base_digest: str  # "" for FROM scratch
    config_digest: str
    blobs_uploaded: int
    blobs_reused: int
    provenance_digest: str
    manifest: dict
    image: str = ""  # registry/repository@sha256:...
    layers: list[dict] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover


def _short(digest: str) -> str:
    return digest[:19]


class _Build:
    def __init__(self, *, target: ImageRef, client: RegistryClient, base_client_for, log, cancelled, workdir: Path):
        self.target = target
        self.client = client
        self.base_client_for = base_client_for
        self.log = log
        self.cancelled = cancelled
        self.workdir = workdir
        self.uploaded = 0
        self.reused = 0
        self.base_ref: ImageRef | None = None
        self.base_client: RegistryClient | None = None
        self.downloaded: dict[str, Path] = {}

    def check(self):
        if self.cancelled():
            self.log("Cancelled.")
            raise BuildCancelled("the build was cancelled")

    def client_for(self, registry: str) -> RegistryClient:
        if self.base_client_for is not None:
            return self.base_client_for(registry)
        if registry == self.target.registry:
            return self.client
        return RegistryClient(registry)

    # --- base image ---------------------------------------------------------------------------

    def fetch_base(self, base: str | None) -> tuple[dict, list[dict], str]:
        """The base's config (dict), layer descriptors and manifest digest ({} [] "" for scratch)."""
        if base is None:
            self.log("Starting from scratch (an empty file system).")
            return {}, [], ""
        try:
            self.base_ref = parse(base)
        except ValueError as exc:
            raise BuildError(f"FROM {base}: {exc}") from exc
        self.base_client = self.client_for(self.base_ref.registry)
        self.log(f"Fetching the base image {self.base_ref}.")
        try:
            manifest = self.base_client.get_manifest(self.base_ref.repository, self.base_ref.reference)
        except RegistryError as exc:
            if exc.status == 404 or exc.code in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN", "NOT_FOUND"):
                raise BaseImageNotFound(f"the base image {self.base_ref} is not in its registry") from exc
            raise
        if manifest.media_type not in mt.IMAGE_MANIFESTS:
            raise BuildError(f"the base image {self.base_ref} is a {manifest.media_type}, not an image manifest")
        config = json.loads(self.base_client.get_blob(self.base_ref.repository, manifest.config["digest"]))
        if (config.get("os"), config.get("architecture")) != ("linux", "amd64"):
            raise BuildError(f"the base image {self.base_ref} is {config.get('os')}/{config.get('architecture')}, "
                             "not linux/amd64")
        layers = manifest.layers
        total = sum(int(layer.get("size") or 0) for layer in layers)
        self.log(f"Base image {self.base_ref} is {manifest.digest} ({len(layers)} layers, {_human(total)}).")
        return config, layers, manifest.digest

    def base_layer_file(self, descriptor: dict) -> Path:
        digest = descriptor["digest"]
        if digest not in self.downloaded:
            path = self.workdir / f"base-{digest.replace(':', '-')}"
            self.base_client.get_blob(self.base_ref.repository, digest, path)
            self.downloaded[digest] = path
        return self.downloaded[digest]

    def lookup_ids(self, base_layers: list[dict]):
        """Users and groups of the base image, for ``--chown`` names (downloads its layers once)."""
        def lookup():
            if not base_layers:
                return {}, {}
            self.log("Reading users and groups from the base image for --chown.")
            files = ly.read_files([self.base_layer_file(d) for d in base_layers], {"etc/passwd", "etc/group"})
            users, groups = {}, {}
            for line in files.get("etc/passwd", b"").decode(errors="replace").splitlines():
                fields = line.split(":")
                if len(fields) >= 4 and fields[2].isdigit() and fields[3].isdigit():
                    users.setdefault(fields[0], (int(fields[2]), int(fields[3])))
            for line in files.get("etc/group", b"").decode(errors="replace").splitlines():
                fields = line.split(":")
                if len(fields) >= 3 and fields[2].isdigit():
                    groups.setdefault(fields[0], int(fields[2]))
            return users, groups
        return lookup

    # --- pushing ------------------------------------------------------------------------------

    def count(self, outcome: str):
        if outcome == UPLOADED:
            self.uploaded += 1
        else:
            self.reused += 1

    def progress(self, what: str):
        state = {"next": 0.25, "started": time.monotonic()}

        def report(sent: int, total: int):
            self.check()  # between chunks: a cancelled build does not finish a long upload
            if total > 8 * 1024 * 1024 and sent / total >= state["next"] and sent < total:
                self.log(f"  {what}: {_human(sent)} of {_human(total)} sent.")
                while sent / total >= state["next"]:
                    state["next"] += 0.25
        return report

    def push_base_layer(self, descriptor: dict) -> None:
        repository, digest = self.target.repository, descriptor["digest"]
        if self.client.head_blob(repository, digest) is not None:
            self.count(EXISTING)
            self.log(f"Base layer {_short(digest)} is already in {repository}.")
            return
        same_registry = self.base_client is self.client or self.base_ref.registry == self.target.registry
        if same_registry and self.client.mount_blob(repository, digest, self.base_ref.repository):
            self.count(MOUNTED)
            self.log(f"Base layer {_short(digest)} mounted from {self.base_ref.repository}.")
            return
        path = self.base_layer_file(descriptor)
        self.log(f"Copying base layer {_short(digest)} ({_human(path.stat().st_size)}) from {self.base_ref.registry}.")
        outcome = self.client.push_blob(repository, path, digest, path.stat().st_size,
                                        progress=self.progress(f"base layer {_short(digest)}"))
        self.count(outcome)

    def push_new_blob(self, path_or_bytes, digest: str, size: int, what: str) -> None:
        started = time.monotonic()
        outcome = self.client.push_blob(self.target.repository, path_or_bytes, digest, size,
                                        progress=self.progress(what))
        self.count(outcome)
        if outcome == UPLOADED:
            self.log(f"Uploaded {what} ({_human(size)}) in {time.monotonic() - started:.1f} s.")
        else:
            self.log(f"{what[0].upper()}{what[1:]} is already in the registry; not uploaded again.")


def _image_config(base_config: dict, spec: df.ImageSpec, labels: dict, diff_ids: list[str],
                  history: list[dict]) -> dict:
    config = {"created": ly.EPOCH_ISO}
    if spec.author:
        config["author"] = spec.author
    config["architecture"] = "amd64"
    config["os"] = "linux"
    for key, value in base_config.items():  # variant, os.version, ...: kept as the base has them
        if key not in _NOT_INHERITED:
            config[key] = value
    container = dict(spec.config)
    container["Labels"] = {**(container.get("Labels") or {}), **labels}
    config["config"] = container
    config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    config["history"] = history
    return config


def build_image(*, dockerfile: str, context_files: dict[str, bytes] | None = None, artifact: Path | None = None,
                artifact_name: str | None = None, target: ImageRef, client: RegistryClient,
                base_client_for: Callable[[str], RegistryClient] | None = None, labels: dict | None = None,
                build_id: str = "", build_args: dict | None = None, provenance: dict | None = None,
                log: Callable[[str], None] | None = None, cancelled: Callable[[], bool] | None = None,
                workdir: Path | None = None, builder: str | None = None) -> BuildResult:
    """Build ``dockerfile`` over its base image and push the image to ``target`` (tagged with
    ``target.tag``, if any). ``base_client_for(registry_host)`` gives the client for the base
    image's registry (default: ``client`` when it is the target's registry). Raises
    ``dockerfile.DockerfileError`` (naming the line), ``BuildError``, ``BuildCancelled`` or
    ``client.RegistryError``.

    ``builder``: "native" (this module) or "buildah" (``buildah.build_image``, which runs RUN);
    None means ``settings.BUILDER``.
    """
    if builder is None:
        from django.conf import settings

        builder = getattr(settings, "BUILDER", "native")
    if builder == "buildah":
        from . import buildah

        return buildah.build_image(
            dockerfile=dockerfile, context_files=context_files, artifact=artifact, artifact_name=artifact_name,
            target=target, client=client, base_client_for=base_client_for, labels=labels, build_id=build_id,
            build_args=build_args, provenance=provenance, log=log, cancelled=cancelled, workdir=workdir)
    if builder != "native":
        raise BuildError(f"unknown builder {builder!r} (BUILDER is 'native' or 'buildah')")
    log = log or (lambda message: None)
    cancelled = cancelled or (lambda: False)
    if target.digest:
        raise BuildError("the target names a digest; give a repository and a tag")
    build_args = {str(k): str(v) for k, v in (build_args or {}).items()}
    started = time.monotonic()

    plan = df.plan(dockerfile, build_args)
    try:
        context = BuildContext(files=context_files, artifact=artifact, artifact_name=artifact_name)
    except ContextError as exc:
        raise BuildError(str(exc)) from exc
    steps = sum(len(stage.instructions) for stage in plan.stages)
    log(f"Read the Dockerfile: {steps} instructions after FROM {plan.base or 'scratch'} (line {plan.base_line}).")
    if plan.skipped_stages:
        log(f"Stages not used by the final stage are skipped: {', '.join(plan.skipped_stages)}.")

    with tempfile.TemporaryDirectory(prefix="oci-build-", dir=workdir) as tmp:
        build = _Build(target=target, client=client, base_client_for=base_client_for, log=log,
                       cancelled=cancelled, workdir=Path(tmp))
        build.check()
        base_config, base_layers, base_digest = build.fetch_base(plan.base)
        build.check()
        spec = df.apply(plan, base_config, context, lookup_ids=build.lookup_ids(base_layers))
        if len(base_layers) + len(spec.layers) > MAX_LAYERS:
            raise BuildError(f"the image would have {len(base_layers) + len(spec.layers)} layers; runtimes accept "
                             f"at most {MAX_LAYERS} (combine COPY instructions)")
        for name in spec.unused_build_args:
            log(f"Build argument {name} is not used by the Dockerfile.")

        new_layers: list[ly.Layer] = []
        for number, step in enumerate(spec.layers, start=1):
            build.check()
            try:
                layer = ly.write_layer(step.entries, Path(tmp) / f"layer-{number}.tar.gz")
            except ValueError as exc:
                raise df.DockerfileError(str(exc), step.line) from exc
            new_layers.append(layer)
            log(f"Layer {number} of {len(spec.layers)} (line {step.line}, {step.created_by}): "
                f"{len(step.entries)} entries, {_human(layer.size)} compressed, {_short(layer.digest)}.")

        base_ref = build.base_ref
        fixed_labels = {"org.opencontainers.image.created": ly.EPOCH_ISO}
        if base_ref is not None:
            fixed_labels["org.opencontainers.image.base.name"] = f"{base_ref.name}:{base_ref.tag or 'latest'}" \
                if not base_ref.digest else str(base_ref)
            fixed_labels["org.opencontainers.image.base.digest"] = base_digest
        if build_id:
            fixed_labels["io.stratus.build.id"] = str(build_id)
        all_labels = {**{str(k): str(v) for k, v in (labels or {}).items()}, **fixed_labels}
        diff_ids = list((base_config.get("rootfs") or {}).get("diff_ids") or []) + [la.diff_id for la in new_layers]
        history = list(base_config.get("history") or []) + [
            {"created": ly.EPOCH_ISO, **entry} for entry in spec.history]
        config = _image_config(base_config, spec, all_labels, diff_ids, history)
        config_raw = encode_json(config)
        config_digest = mt.sha256_digest(config_raw)

        layer_descriptors = [
            {"mediaType": mt.TO_OCI.get(d["mediaType"], d["mediaType"]), "digest": d["digest"], "size": d["size"]}
            for d in base_layers] + [la.descriptor() for la in new_layers]
        manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                    "config": {"mediaType": mt.OCI_CONFIG, "digest": config_digest, "size": len(config_raw)},
                    "layers": layer_descriptors}
        if base_ref is not None:
            manifest["annotations"] = {
                "org.opencontainers.image.base.name": fixed_labels["org.opencontainers.image.base.name"],
                "org.opencontainers.image.base.digest": base_digest}
        manifest_raw = encode_json(manifest)
        digest = mt.sha256_digest(manifest_raw)

        log(f"Pushing to {target}.")
        for descriptor in base_layers:
            build.check()
            build.push_base_layer(descriptor)
        for number, layer in enumerate(new_layers, start=1):
            build.check()
            build.push_new_blob(layer.path, layer.digest, layer.size, f"layer {number} {_short(layer.digest)}")
        build.check()
        build.push_new_blob(config_raw, config_digest, len(config_raw), f"image config {_short(config_digest)}")
        build.check()
        pushed = client.push_manifest(target.repository, target.tag or digest, manifest_raw, mt.OCI_MANIFEST)
        if pushed != digest:  # pragma: no cover (push_manifest verifies the registry's answer)
            raise BuildError(f"the registry stored {pushed}, not {digest}")
        log(f"Pushed {target.name}@{digest} ({build.uploaded} blobs uploaded, {build.reused} already there).")

        record = {
            **(provenance or {}),
            "_type": "https://stratus.example/provenance/v1",
            "subject": {"name": target.name, "digest": digest, "tag": target.tag or ""},
            "builder": {"id": BUILDER_ID, "version": BUILDER_VERSION},
            "base": {"name": str(base_ref) if base_ref else "scratch", "digest": base_digest},
            "dockerfile": {"sha256": hashlib.sha256(dockerfile.encode()).hexdigest()},
            "buildArgs": build_args,
            "buildId": str(build_id),
            "layers": [la.digest for la in new_layers],
        }
        build.check()
        provenance_digest = push_provenance(client, target.repository, record,
                                            {"mediaType": mt.OCI_MANIFEST, "digest": digest, "size": len(manifest_raw)})
        log(f"Provenance {_short(provenance_digest)} attached to the image.")
        size = len(config_raw) + sum(int(d["size"]) for d in layer_descriptors)
        log(f"Done in {time.monotonic() - started:.1f} s: {target.name}@{digest}, {_human(size)}.")
        return BuildResult(digest=digest, size=size, base_digest=base_digest, config_digest=config_digest,
                           blobs_uploaded=build.uploaded, blobs_reused=build.reused,
                           provenance_digest=provenance_digest, manifest=manifest,
                           image=f"{target.name}@{digest}", layers=layer_descriptors, provenance=record)


def provenance_manifest(record: dict, subject: dict, created: str | None = None) -> tuple[dict, bytes]:
    """The OCI 1.1 artifact for a provenance record (and the record's bytes, its one layer)."""
    blob = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    manifest = {
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "artifactType": mt.PROVENANCE,
        "config": dict(mt.EMPTY_DESCRIPTOR),
        "layers": [{"mediaType": mt.PROVENANCE, "digest": mt.sha256_digest(blob), "size": len(blob)}],
        "subject": subject,
        "annotations": {"org.opencontainers.image.created":
                        created or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
    return manifest, blob


def push_provenance(client: RegistryClient, repository: str, record: dict, subject: dict) -> str:
    """Push the record next to its image (found through the referrers API or its fallback tag)."""
    manifest, blob = provenance_manifest(record, subject, record.get("created") or record.get("startedAt"))
    client.push_blob(repository, mt.EMPTY_JSON)
    client.push_blob(repository, blob)
    return client.push_manifest(repository, None, manifest, mt.OCI_MANIFEST)
