"""Registry errors a client can cause. Each is a DomainError (a 400 naming the problem in the
portal and the API) that also knows its distribution-spec code for /v2/."""
from paas.errors import DomainError


class RegistryProblem(DomainError):
    oci_code = "UNSUPPORTED"
    oci_status = 400

    def __init__(self, message: str, *, detail=None, field: str | None = None):
        super().__init__(message, field=field)
        self.detail = detail


class ManifestInvalid(RegistryProblem):
    oci_code = "MANIFEST_INVALID"


class ManifestBlobUnknown(RegistryProblem):
    oci_code = "MANIFEST_BLOB_UNKNOWN"


class DigestInvalid(RegistryProblem):
    oci_code = "DIGEST_INVALID"


class NameInvalid(RegistryProblem):
    oci_code = "NAME_INVALID"


class ManifestInUse(RegistryProblem):
    """A manifest an index of the same repository still lists (delete the index first)."""

    status_code = 409
    code = "conflict"
    oci_code = "UNSUPPORTED"
    oci_status = 409
