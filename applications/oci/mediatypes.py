"""Media types of the OCI image spec 1.1 and their Docker schema 2 equivalents."""
import base64
import hashlib

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

PROVENANCE = "application/vnd.stratus.provenance.v1+json"

IMAGE_MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST))

# A Docker schema 2 layer is the same bytes as its OCI counterpart; an OCI manifest names the OCI type.
TO_OCI = {
    DOCKER_LAYER_GZIP: OCI_LAYER_GZIP,
    DOCKER_CONFIG: OCI_CONFIG,
}

# The image spec's empty descriptor: the two bytes "{}" (OCI 1.1 artifacts use it as their config).
EMPTY_JSON = b"{}"
EMPTY_DIGEST = "sha256:" + hashlib.sha256(EMPTY_JSON).hexdigest()
EMPTY_DESCRIPTOR = {
    "mediaType": OCI_EMPTY,
    "digest": EMPTY_DIGEST,
    "size": len(EMPTY_JSON),
    "data": base64.b64encode(EMPTY_JSON).decode(),
}


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
