"""Tiny, reproducible OCI images written by Python: layers, configs, manifests, OCI layouts."""
import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def tar_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


@dataclass
class Image:
    manifest: bytes
    media_type: str
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest -> bytes (config and layers)

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)

    @property
    def data(self) -> dict:
        return json.loads(self.manifest)


def image(files_per_layer: list[dict[str, bytes]], *, docker: bool = False, subject: dict | None = None,
          annotations: dict | None = None, label: str = "") -> Image:
    layers, diff_ids, blobs = [], [], {}
    for files in files_per_layer:
        raw = tar_bytes(files)
        compressed = gzip_bytes(raw)
        diff_ids.append(digest_of(raw))
        blobs[digest_of(compressed)] = compressed
        layers.append({"mediaType": DOCKER_LAYER if docker else OCI_LAYER, "digest": digest_of(compressed),
                       "size": len(compressed)})
    config = canonical({"architecture": "amd64", "os": "linux", "config": {"Labels": {"test": label}},
                        "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    blobs[digest_of(config)] = config
    manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
                "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG, "digest": digest_of(config),
                           "size": len(config)},
                "layers": layers}
    if subject:
        manifest["subject"] = subject
    if annotations:
        manifest["annotations"] = annotations
    return Image(canonical(manifest), manifest["mediaType"], blobs)


def artifact(subject: Image, *, artifact_type: str, payload: bytes, annotations: dict | None = None) -> Image:
    """An OCI 1.1 artifact (empty config) that refers to `subject` (referrers API)."""
    empty = b"{}"
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
                "config": {"mediaType": OCI_EMPTY, "digest": digest_of(empty), "size": 2},
                "layers": [{"mediaType": "application/json", "digest": digest_of(payload), "size": len(payload)}],
                "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": len(subject.manifest)}}
    if annotations:
        manifest["annotations"] = annotations
    return Image(canonical(manifest), OCI_MANIFEST, {digest_of(empty): empty, digest_of(payload): payload})


def index(images: list[Image], *, docker: bool = False) -> bytes:
    return canonical({"schemaVersion": 2, "mediaType": DOCKER_LIST if docker else OCI_INDEX,
                      "manifests": [{"mediaType": i.media_type, "digest": i.digest, "size": len(i.manifest),
                                     "platform": {"architecture": "amd64", "os": "linux"}} for i in images]})


def write_oci_layout(directory: Path, img: Image, tag: str) -> None:
    """An OCI image layout (what `skopeo copy oci:<dir>:<tag>` reads)."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for digest, data in {**img.blobs, img.digest: img.manifest}.items():
        (blobs / digest.split(":", 1)[1]).write_bytes(data)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (directory / "index.json").write_text(json.dumps({
        "schemaVersion": 2,
        "manifests": [{"mediaType": img.media_type, "digest": img.digest, "size": len(img.manifest),
                       "annotations": {"org.opencontainers.image.ref.name": tag}}],
    }))


def write_oci_layout_index(directory: Path, members: list[Image], tag: str) -> bytes:
    """A multi-platform image (an OCI index of `members`) as an OCI layout; returns the index."""
    body = index(members)
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for img in members:
        for digest, data in {**img.blobs, img.digest: img.manifest}.items():
            (blobs / digest.split(":", 1)[1]).write_bytes(data)
    (blobs / digest_of(body).split(":", 1)[1]).write_bytes(body)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (directory / "index.json").write_text(json.dumps({
        "schemaVersion": 2,
        "manifests": [{"mediaType": OCI_INDEX, "digest": digest_of(body), "size": len(body),
                       "annotations": {"org.opencontainers.image.ref.name": tag}}],
    }))
    return body


def read_oci_layout(directory: Path) -> dict:
    """index.json of a layout skopeo wrote, and the manifest it names."""
    index_data = json.loads((directory / "index.json").read_text())
    entry = index_data["manifests"][0]
    manifest = (directory / "blobs" / "sha256" / entry["digest"].split(":", 1)[1]).read_bytes()
    return {"digest": entry["digest"], "manifest": manifest}
