"""The distribution spec's error answers: ``{"errors": [{"code", "message", "detail"}]}``.

Views raise RegistryError; the endpoint wrapper (v2.base) turns it into the response, so no
/v2/ request ever gets the portal's HTML error pages or the API's JSON error shape.
"""
import json

from django.http import HttpResponse

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")

MESSAGES = {
    "BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UPLOAD_INVALID": "blob upload invalid",
    "BLOB_UPLOAD_UNKNOWN": "blob upload unknown to registry",
    "DIGEST_INVALID": "provided digest did not match uploaded content",
    "MANIFEST_BLOB_UNKNOWN": "manifest references a manifest or blob unknown to registry",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNKNOWN": "manifest unknown to registry",
    "NAME_INVALID": "invalid repository name",
    "NAME_UNKNOWN": "repository name not known to registry",
    "SIZE_INVALID": "provided length did not match content length",
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "UNSUPPORTED": "the operation is unsupported",
    "TOO_MANY_REQUESTS": "too many requests",
}


class RegistryError(Exception):
    def __init__(self, status: int, code: str, detail=None, *, message: str | None = None, headers=None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail = detail
        self.message = message or MESSAGES[code]
        self.headers = headers or {}

    def response(self) -> HttpResponse:
        error = {"code": self.code, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        response = HttpResponse(json.dumps({"errors": [error]}), status=self.status,
                                content_type="application/json")
        for name, value in self.headers.items():
            response[name] = value
        response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
        return response


def name_unknown(name: str) -> RegistryError:
    return RegistryError(404, "NAME_UNKNOWN", {"name": name})


def blob_unknown(digest: str) -> RegistryError:
    return RegistryError(404, "BLOB_UNKNOWN", {"digest": digest})


def manifest_unknown(reference: str) -> RegistryError:
    return RegistryError(404, "MANIFEST_UNKNOWN", {"reference": reference})


def upload_unknown() -> RegistryError:
    return RegistryError(404, "BLOB_UPLOAD_UNKNOWN")


def digest_invalid(detail) -> RegistryError:
    return RegistryError(400, "DIGEST_INVALID", detail)
