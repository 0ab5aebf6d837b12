"""/v2/<name>/manifests/<reference>, tags/list and referrers/<digest>."""
import json

from django.http import HttpResponse

from paas.permissions import NotPermitted

from .. import manifests, names, selectors, services, storage
from ..exceptions import RegistryProblem
from ..models import Manifest, Tag
from .base import empty, endpoint, repository_or_404, require
from .blobs import declared_length, not_allowed
from .errors import RegistryError, digest_invalid, manifest_unknown

MAX_PAGE = 1000


@endpoint
def manifest(request, name: str, reference: str):
    if request.method in ("GET", "HEAD"):
        return _get(request, name, reference)
    if request.method == "PUT":
        return _put(request, name, reference)
    if request.method == "DELETE":
        return _delete(request, name, reference)
    raise not_allowed("GET", "HEAD", "PUT", "DELETE")


def _get(request, name, reference):
    require(request, name, "pull")
    repository = repository_or_404(name)
    found = selectors.manifest_in(repository, reference)
    if found is None:
        raise manifest_unknown(reference[:150])
    try:
        content = storage.read_blob(found.blob.digest, limit=manifests.MAX_BYTES)
    except FileNotFoundError:
        raise manifest_unknown(reference[:150]) from None
    response = empty(200) if request.method == "HEAD" else HttpResponse(content)
    response["Content-Type"] = found.media_type
    response["Content-Length"] = str(len(content))
    response["Docker-Content-Digest"] = found.digest
    response["ETag"] = f'"{found.digest}"'
    return response


def _put(request, name, reference):
    principal = require(request, name, "push")
    length = declared_length(request)
    if length is not None and length > manifests.MAX_BYTES:
        raise RegistryError(413, "MANIFEST_INVALID", {"limit": manifests.MAX_BYTES},
                            message="manifest larger than 4 MiB")
    content = request.read(manifests.MAX_BYTES + 1)
    if len(content) > manifests.MAX_BYTES:
        raise RegistryError(413, "MANIFEST_INVALID", {"limit": manifests.MAX_BYTES},
                            message="manifest larger than 4 MiB")
    try:
        stored = services.manifest_push(actor=principal.actor, name=name, reference=reference, content=content,
                                        content_type=request.META.get("CONTENT_TYPE", ""))
    except RegistryProblem as exc:
        raise RegistryError(exc.oci_status, exc.oci_code, exc.detail, message=exc.message) from None
    except NotPermitted as exc:
        raise RegistryError(403, "DENIED", {"name": name}, message=str(exc)) from None
    response = empty(201, Location=f"/v2/{name}/manifests/{stored.digest}", Docker_Content_Digest=stored.digest)
    if stored.subject_digest:
        response["OCI-Subject"] = stored.subject_digest
    return response


def _delete(request, name, reference):
    principal = require(request, name, "delete")
    repository = repository_or_404(name)
    try:
        if names.is_digest(reference):
            if not names.DIGEST_RE.match(reference):
                raise digest_invalid({"digest": reference[:100]})
            found = Manifest.objects.filter(repository=repository, digest=reference).first()
            if found is None:
                raise manifest_unknown(reference)
            services.manifest_delete(actor=principal.actor, manifest=found)
        else:
            tag = Tag.objects.filter(repository=repository, name=reference).select_related("manifest").first()
            if tag is None:
                raise manifest_unknown(reference[:150])
            services.tag_delete(actor=principal.actor, tag=tag)
    except RegistryProblem as exc:
        raise RegistryError(exc.oci_status, exc.oci_code, exc.detail, message=exc.message) from None
    except NotPermitted as exc:
        raise RegistryError(403, "DENIED", {"name": name}, message=str(exc)) from None
    return empty(202)


def page_size(request) -> int | None:
    raw = request.GET.get("n")
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise RegistryError(400, "UNSUPPORTED", {"n": raw[:20]}, message="n must be a non-negative integer")
    return min(int(raw), MAX_PAGE)


def paginate(request, path: str, items: list[str]) -> tuple[list[str], str | None]:
    """Lexically sorted `items` after `last`, at most `n`; plus the Link header for the next page."""
    size = page_size(request)
    last = request.GET.get("last")
    items = sorted(items)
    if last is not None:
        items = [item for item in items if item > last]
    if size is None:
        return items, None
    page = items[:size]
    if size and len(items) > size:
        return page, f'<{path}?n={size}&last={page[-1]}>; rel="next"'
    return page, None


def _json(data: dict, *, link: str | None = None, content_type: str = "application/json") -> HttpResponse:
    response = HttpResponse(json.dumps(data), content_type=content_type)
    if link:
        response["Link"] = link
    return response


@endpoint
def tags_list(request, name: str):
    if request.method not in ("GET", "HEAD"):
        raise not_allowed("GET", "HEAD")
    require(request, name, "pull")
    repository = repository_or_404(name)
    tags, link = paginate(request, f"/v2/{name}/tags/list", list(repository.tags.values_list("name", flat=True)))
    return _json({"name": name, "tags": tags}, link=link)


@endpoint
def referrers(request, name: str, digest: str):
    if request.method not in ("GET", "HEAD"):
        raise not_allowed("GET", "HEAD")
    require(request, name, "pull")
    repository = repository_or_404(name)
    if not names.DIGEST_RE.match(digest):
        raise digest_invalid({"digest": digest[:100]})
    wanted = request.GET.get("artifactType")
    found = selectors.referrers(repository, digest, artifact_type=wanted)
    descriptors = []
    for item in found:
        descriptor = {"mediaType": item.media_type, "digest": item.digest, "size": item.size,
                      "artifactType": item.artifact_type}
        if item.annotations:
            descriptor["annotations"] = item.annotations
        descriptors.append(descriptor)
    response = _json({"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": descriptors},
                      content_type=manifests.OCI_INDEX)
    if wanted:
        response["OCI-Filters-Applied"] = "artifactType"
    return response
