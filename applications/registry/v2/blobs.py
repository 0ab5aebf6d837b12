"""/v2/<name>/blobs/...: read blobs, and push them monolithically, in chunks, or by mounting.

Request bodies are read with request.read(64 KiB) loops into files (storage), never through
request.body, so DATA_UPLOAD_MAX_MEMORY_SIZE does not apply and memory stays flat. (twisted spools a
body to a temporary file before the application sees it, paas/http_server.py hands it to Django a
chunk at a time, and Django's ASGI handler spools it again above FILE_UPLOAD_MAX_MEMORY_SIZE: disk,
not memory.)
"""
import re

from django.conf import settings

from .. import blobs, names, storage
from ..models import Repository
from .base import empty, endpoint, repository_or_404, request_auth, require
from .errors import RegistryError, blob_unknown, digest_invalid, upload_unknown
from .responses import file_response, parse_range

CONTENT_RANGE_RE = re.compile(r"^(?:bytes )?(\d{1,19})-(\d{1,19})(?:/(?:\d{1,19}|\*))?$")


def max_blob_bytes() -> int:
    return settings.REGISTRY_MAX_BLOB_BYTES


def not_allowed(*methods) -> RegistryError:
    return RegistryError(405, "UNSUPPORTED", headers={"Allow": ", ".join(methods)})


def declared_length(request) -> int | None:
    """The Content-Length header, if any; a nonsense or oversized one is refused before reading."""
    raw = request.META.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise RegistryError(400, "SIZE_INVALID", {"content_length": raw[:40]})
    length = int(raw)
    if length > max_blob_bytes():
        raise RegistryError(413, "SIZE_INVALID", {"content_length": length, "limit": max_blob_bytes()},
                            message="blob larger than this registry accepts")
    return length


def check_digest_param(value: str | None) -> str:
    if value is None or not names.DIGEST_RE.match(value):
        raise digest_invalid({"digest": (value or "")[:100]})
    if not names.valid_digest(value):
        raise RegistryError(400, "DIGEST_INVALID", {"digest": value[:100]},
                            message="only sha256 digests are supported")
    return value


def blob_location(name: str, digest: str) -> str:
    return f"/v2/{name}/blobs/{digest}"


def upload_location(name: str, upload) -> str:
    return f"/v2/{name}/blobs/uploads/{upload.pk}"


def range_header(size: int) -> str:
    return f"0-{max(size - 1, 0)}"


def created(name: str, digest: str):
    return empty(201, Location=blob_location(name, digest), Docker_Content_Digest=digest)


# --- reading ------------------------------------------------------------------------------

@endpoint
def blob(request, name: str, digest: str):
    if request.method not in ("GET", "HEAD"):
        raise not_allowed("GET", "HEAD")
    require(request, name, "pull")
    repository = repository_or_404(name)
    if not names.DIGEST_RE.match(digest):
        raise digest_invalid({"digest": digest[:100]})
    found = blobs.linked_blob(repository, digest)
    if found is None or not storage.blob_exists(digest):
        raise blob_unknown(digest)
    blobs.touch(found)
    headers = {"Docker-Content-Digest": digest, "Accept-Ranges": "bytes", "ETag": f'"{digest}"'}
    if request.method == "HEAD":
        response = empty(200)
        response["Content-Length"] = str(found.size)
        response["Content-Type"] = "application/octet-stream"
    elif request.META.get("HTTP_RANGE"):
        span = parse_range(request.META["HTTP_RANGE"], found.size)
        if span is None:
            raise RegistryError(416, "BLOB_UNKNOWN", {"digest": digest}, message="requested range not satisfiable",
                                headers={"Content-Range": f"bytes */{found.size}"})
        start, end = span
        response = file_response(request, storage.open_blob(digest), start=start, length=end - start + 1,
                                 status=206)
        response["Content-Range"] = f"bytes {start}-{end}/{found.size}"
    else:
        response = file_response(request, storage.open_blob(digest), start=0, length=found.size)
    for key, value in headers.items():
        response[key] = value
    return response


# --- pushing ------------------------------------------------------------------------------

@endpoint
def upload_start(request, name: str):
    if request.method != "POST":
        raise not_allowed("POST")
    principal = require(request, name, "push")
    repository = blobs.repository_for_push(name)
    mounted = _try_mount(request, repository)
    if mounted is not None:
        return created(name, mounted.digest)
    if "digest" in request.GET:  # monolithic: the whole blob in this request
        digest = check_digest_param(request.GET["digest"])
        length = declared_length(request)
        path, actual, size = _receive(request, length)
        if actual != digest:
            storage.discard(path)
            raise digest_invalid({"expected": digest, "actual": actual})
        blobs.store(repository, path, digest, size)
        return created(name, digest)
    upload = blobs.upload_create(repository, principal.user)
    return empty(202, Location=upload_location(name, upload), Range="0-0", Docker_Upload_UUID=str(upload.pk),
                 OCI_Chunk_Min_Length="0")


def _try_mount(request, repository: Repository):
    """Mount only from a repository the caller may pull from; otherwise (as the spec says) the
    caller gets an ordinary upload session and sends the bytes."""
    digest, source = request.GET.get("mount"), request.GET.get("from")
    if not digest or not source or not names.valid_digest(digest) or not names.valid_name(source):
        return None
    if not request_auth(request).allows("repository", source, "pull"):
        return None
    return blobs.mount(repository, Repository.objects.filter(name=source).first(), digest)


def _receive(request, length: int | None):
    try:
        path, digest, size = storage.receive(request, limit=max_blob_bytes())
    except storage.SizeExceeded:
        raise RegistryError(413, "SIZE_INVALID", {"limit": max_blob_bytes()},
                            message="blob larger than this registry accepts") from None
    if length is not None and size != length:
        storage.discard(path)
        raise RegistryError(400, "SIZE_INVALID", {"content_length": length, "received": size})
    return path, digest, size


@endpoint
def upload(request, name: str, upload_id: str):
    if request.method not in ("GET", "PATCH", "PUT", "DELETE"):
        raise not_allowed("GET", "PATCH", "PUT", "DELETE")
    require(request, name, "push")
    session = blobs.upload_get(Repository.objects.filter(name=name).first(), upload_id)
    if session is None:
        raise upload_unknown()
    if request.method == "GET":
        size = storage.upload_size(session.pk)
        return empty(204, Location=upload_location(name, session), Range=range_header(size),
                     Docker_Upload_UUID=str(session.pk))
    if request.method == "DELETE":
        blobs.upload_delete(session)
        return empty(204)
    if request.method == "PUT":
        digest = check_digest_param(request.GET.get("digest"))
    try:
        with storage.locked_upload(session.pk) as handle:
            size = _append_chunk(request, name, session, handle)
            if request.method == "PATCH":
                blobs.upload_progress(session, size)
                return empty(202, Location=upload_location(name, session), Range=range_header(size),
                             Docker_Upload_UUID=str(session.pk))
            actual = storage.file_digest(storage.upload_path(session.pk))
            if actual != digest:
                blobs.upload_progress(session, size)
                raise digest_invalid({"expected": digest, "actual": actual})
            blobs.upload_finish(session, digest)
    except FileNotFoundError:
        raise upload_unknown() from None
    except storage.Busy:
        raise RegistryError(416, "BLOB_UPLOAD_INVALID", {"reason": "another chunk is being written"},
                            headers={"Location": upload_location(name, session),
                                     "Range": range_header(storage.upload_size(session.pk))}) from None
    return created(name, digest)


def _append_chunk(request, name: str, session, handle) -> int:
    """Append the request body (if any) at the session's end; returns the new size."""
    offset = handle.tell()
    length = declared_length(request)
    expected = length
    content_range = request.META.get("HTTP_CONTENT_RANGE", "")
    if content_range:
        match = CONTENT_RANGE_RE.match(content_range.strip())
        if match is None:
            raise RegistryError(400, "BLOB_UPLOAD_INVALID", {"content_range": content_range[:100]})
        start, end = int(match[1]), int(match[2])
        if start != offset or end < start:  # out of order: tell the client where the session is
            raise RegistryError(416, "BLOB_UPLOAD_INVALID", {"offset": offset, "content_range": content_range[:100]},
                                message="chunk out of order",
                                headers={"Location": upload_location(name, session), "Range": range_header(offset)})
        if length is not None and length != end - start + 1:
            raise RegistryError(400, "SIZE_INVALID", {"content_length": length, "content_range": content_range[:100]})
        expected = end - start + 1
    try:
        written = storage.append(handle, request, limit=max_blob_bytes() - offset)
    except storage.SizeExceeded:
        raise RegistryError(413, "SIZE_INVALID", {"limit": max_blob_bytes()},
                            message="blob larger than this registry accepts") from None
    if expected is not None and written != expected:
        handle.truncate(offset)
        raise RegistryError(400, "SIZE_INVALID", {"expected": expected, "received": written})
    return offset + written
