"""Parsing and checking manifests (pure: no database, no disk).

Four media types are accepted: OCI image manifest and image index, Docker schema2 manifest and
manifest list. `parse` refuses anything malformed with ManifestInvalid (MANIFEST_INVALID); whether
the blobs and manifests it references exist is the caller's question (MANIFEST_BLOB_UNKNOWN).
"""
import json
import math
from dataclasses import dataclass, field

from paas.safeinput import MAX_DEPTH

from .names import DIGEST_RE

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MEDIA_TYPES = IMAGE_TYPES | INDEX_TYPES

MAX_BYTES = 4 * 1024 * 1024
MAX_DESCRIPTORS = 10_000
MAX_ANNOTATIONS = 256
# Layers a registry never holds (Windows base layers): they name where they are downloaded from.
FOREIGN_LAYERS = frozenset({"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                            "application/vnd.oci.image.layer.nondistributable.v1.tar",
                            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                            "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"})


class ManifestInvalid(Exception):
    pass


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: str = ""
    annotations: dict = field(default_factory=dict)
    foreign: bool = False


@dataclass
class Parsed:
    media_type: str
    config: Descriptor | None = None
    layers: list[Descriptor] = field(default_factory=list)
    manifests: list[Descriptor] = field(default_factory=list)
    subject: Descriptor | None = None
    artifact_type: str = ""
    annotations: dict = field(default_factory=dict)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def blobs(self) -> list[Descriptor]:
        """Config and layers the registry must hold (foreign layers excepted)."""
        found = ([self.config] if self.config else []) + self.layers
        return [d for d in found if not d.foreign]


def _reject_constant(name):
    raise ManifestInvalid(f"{name} is not valid JSON")


def _decode(content: bytes):
    try:
        text = content.decode("utf-8")
        data = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ManifestInvalid("the manifest is not UTF-8") from None
    except RecursionError:
        raise ManifestInvalid("the manifest nests too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError included
        raise ManifestInvalid(f"the manifest is not JSON: {str(exc)[:200]}") from None
    if _depth(data) > MAX_DEPTH:
        raise ManifestInvalid("the manifest nests too deeply")
    return data


def _depth(value) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def _string(data: dict, key: str, where: str, *, required: bool = False, limit: int = 255) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise ManifestInvalid(f"{where}{key} is missing")
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise ManifestInvalid(f"{where}{key} must be a string of at most {limit} characters")
    return value


def _annotations(data: dict, where: str) -> dict:
    value = data.get("annotations")
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_ANNOTATIONS or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ManifestInvalid(f"{where}annotations must map strings to strings")
    return value


def _descriptor(value, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{where} must be an object")
    prefix = f"{where}."
    media_type = _string(value, "mediaType", prefix, required=True)
    digest = _string(value, "digest", prefix, required=True)
    if not DIGEST_RE.match(digest):
        raise ManifestInvalid(f"{prefix}digest is not a digest")
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or size > 2**63 - 1:
        raise ManifestInvalid(f"{prefix}size must be a non-negative integer")
    urls = value.get("urls")
    if urls is not None and not (isinstance(urls, list) and all(isinstance(u, str) for u in urls)):
        raise ManifestInvalid(f"{prefix}urls must be a list of strings")
    return Descriptor(media_type=media_type, digest=digest, size=size,
                      artifact_type=_string(value, "artifactType", prefix),
                      annotations=_annotations(value, prefix),
                      foreign=media_type in FOREIGN_LAYERS and bool(urls))


def _descriptors(data: dict, key: str, *, required: bool) -> list[Descriptor]:
    value = data.get(key)
    if value is None:
        if required:
            raise ManifestInvalid(f"{key} is missing")
        return []
    if not isinstance(value, list):
        raise ManifestInvalid(f"{key} must be a list")
    if len(value) > MAX_DESCRIPTORS:
        raise ManifestInvalid(f"{key}: more than {MAX_DESCRIPTORS} entries")
    return [_descriptor(item, f"{key}[{i}]") for i, item in enumerate(value)]


def parse(content: bytes, content_type: str) -> Parsed:
    """Check a manifest's bytes; `content_type` is the request's Content-Type header."""
    if len(content) > MAX_BYTES:
        raise ManifestInvalid(f"the manifest is larger than {MAX_BYTES} bytes")
    data = _decode(content)
    if not isinstance(data, dict):
        raise ManifestInvalid("the manifest must be a JSON object")
    version = data.get("schemaVersion")
    if version != 2 or isinstance(version, bool):
        raise ManifestInvalid("schemaVersion must be 2")
    declared = _string(data, "mediaType", "")
    content_type = content_type.split(";", 1)[0].strip()
    if content_type in MEDIA_TYPES:
        if declared and declared != content_type:
            raise ManifestInvalid(f"mediaType {declared} differs from the Content-Type {content_type}")
        media_type = content_type
    elif declared in MEDIA_TYPES:
        media_type = declared
    else:
        raise ManifestInvalid(f"unsupported manifest media type {(declared or content_type)[:100]!r}")
    parsed = Parsed(media_type=media_type, artifact_type=_string(data, "artifactType", ""),
                    annotations=_annotations(data, ""))
    if "subject" in data and data["subject"] is not None:
        parsed.subject = _descriptor(data["subject"], "subject")
    if media_type in IMAGE_TYPES:
        if data.get("manifests") is not None:
            raise ManifestInvalid("an image manifest has no manifests list")
        parsed.config = _descriptor(data.get("config"), "config")
        parsed.layers = _descriptors(data, "layers", required=media_type == DOCKER_MANIFEST)
        # The referrers API's artifactType falls back to the config's media type (spec).
        parsed.artifact_type = parsed.artifact_type or parsed.config.media_type
    else:
        if data.get("layers") is not None:
            raise ManifestInvalid("an index has no layers")
        parsed.manifests = _descriptors(data, "manifests", required=True)
    return parsed


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    exponent = min(int(math.log(size, 1024)), 4)
    return f"{size / 1024 ** exponent:.1f} {'BKMGT'[exponent]}iB"
