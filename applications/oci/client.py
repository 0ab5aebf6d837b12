"""A client of the OCI distribution API (v1.1) over HTTP(S), with ``requests``.

Authentication follows what registries answer: a Bearer challenge (``WWW-Authenticate: Bearer
realm=...,service=...,scope=...``) is answered by GETting the realm with HTTP Basic credentials
and caching the token per scope; a Basic challenge is answered with the credentials themselves;
a pre-issued ``token`` is sent as a Bearer token from the first request on.

Blobs never pass through memory whole: uploads are a monolithic PUT for small blobs and chunked
PATCHes read from the file for large ones; downloads stream to a file while their digest is
checked. Existing blobs are not uploaded again (HEAD first), and a blob another repository of
the same registry holds is mounted rather than copied.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

from . import mediatypes as mt
from .auth import Authenticator, parse_challenge  # noqa: F401 (parse_challenge: part of the API)
from .errors import RegistryError, RegistryUnreachable, error_from
from .references import validate_digest, validate_repository

USER_AGENT = "stratus-oci/1"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the spec's floor for what registries accept
DEFAULT_TIMEOUT = 60.0

EXISTING = "existing"  # push_blob: the registry already had it
MOUNTED = "mounted"  # push_blob: mounted from another repository of the same registry
UPLOADED = "uploaded"  # push_blob: its bytes were sent


@dataclass
class Manifest:
    data: dict
    raw: bytes
    media_type: str
    digest: str
    # When the reference named an index (a multi-platform image): the index's digest.
    index_digest: str | None = None

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES

    @property
    def config(self) -> dict:
        return self.data.get("config") or {}

    @property
    def layers(self) -> list[dict]:
        return list(self.data.get("layers") or [])

    def descriptor(self) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.raw)}


def encode_json(data) -> bytes:
    """Compact, deterministic JSON bytes (key order is the order the dict was built in)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


class _Slice:
    """``length`` bytes of an open file from ``offset``: one chunk of a chunked upload, read lazily.

    Not an io.IOBase: those are iterable, and requests would send an iterable body with chunked
    transfer encoding, which registries refuse next to a Content-Length."""

    def __init__(self, fileobj, offset: int, length: int, progress: Callable[[int], None] | None = None):
        self._file = fileobj
        self._offset = offset
        self._left = length
        self._length = length
        self._progress = progress
        self._file.seek(offset)

    def __len__(self):
        return self._length

    def read(self, size=-1):
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._file.read(size)
        self._left -= len(data)
        if self._progress:
            self._progress(len(data))
        return data


def _file_digest(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            sha.update(chunk)
            size += len(chunk)
    return "sha256:" + sha.hexdigest(), size


def _add_query(url: str, **params) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class RegistryClient:
    """One registry (``base_url``, e.g. ``http://127.0.0.1:5000`` or ``https://harbor.example``).

    ``insecure``: do not verify TLS certificates, and a ``base_url`` without a scheme means
    ``http://`` (without it: ``https://``). Methods raise ``RegistryError`` with the registry's error
    code, ``RegistryUnreachable`` when no answer came.
    """

    def __init__(self, base_url: str, username: str | None = None, password: str | None = None,
                 token: str | None = None, insecure: bool = True, timeout: float = DEFAULT_TIMEOUT,
                 chunk_size: int = 16 * 1024 * 1024, monolithic_max: int = 8 * 1024 * 1024):
        if "://" not in base_url:
            base_url = ("http://" if insecure else "https://") + base_url
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).netloc
        self.username = username
        self.password = password
        self.token = token
        self.insecure = insecure
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.monolithic_max = monolithic_max
        self.session = requests.Session()
        self.session.verify = not insecure
        self.session.headers["User-Agent"] = USER_AGENT
        self.auth = Authenticator(self.session, username, password, token, timeout)

    def __repr__(self):
        return f"RegistryClient({self.base_url!r}, username={self.username!r})"

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- HTTP and authentication -------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _location(self, response) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(response.status_code, "INVALID_RESPONSE", "the registry gave no upload location")
        return urljoin(response.url, location)

    def _request(self, method: str, url: str, scopes: tuple[str, ...], *, headers=None,
                 body: Callable[[], object] | None = None, stream: bool = False, params=None):
        """One request, answered once more after a 401 challenge; ``body`` makes a fresh body each time."""
        for attempt in (1, 2):
            sent_headers = dict(headers or {})
            authorization = self.auth.header(scopes)
            if authorization:
                sent_headers["Authorization"] = authorization
            try:
                response = self.session.request(method, url, headers=sent_headers, params=params,
                                                data=body() if body else None, stream=stream,
                                                timeout=self.timeout)
            except requests.RequestException as exc:
                raise RegistryUnreachable(0, "UNREACHABLE", f"cannot reach {self.base_url}: {exc}") from exc
            if response.status_code != 401 or attempt == 2:
                return response
            challenge = response.headers.get("WWW-Authenticate", "")
            response.close()
            if not self.auth.answer(challenge, scopes):
                return response
        return response  # pragma: no cover (the loop always returns)

    def _expect(self, response, *statuses: int, fallback: str = ""):
        if response.status_code not in statuses:
            error = error_from(response, fallback)
            response.close()
            raise error
        return response

    @staticmethod
    def _scope(repository: str, push: bool = False) -> str:
        return f"repository:{repository}:{'pull,push' if push else 'pull'}"

    # --- registry ------------------------------------------------------------------------------

    def ping(self) -> bool:
        """True when ``/v2/`` answers as a registry (authenticating if it asks)."""
        response = self._request("GET", self._url("/v2/"), ())
        response.close()
        return response.status_code == 200

    def list_tags(self, repository: str) -> list[str]:
        validate_repository(repository)
        tags: list[str] = []
        url = self._url(f"/v2/{repository}/tags/list")
        while url:
            response = self._expect(self._request("GET", url, (self._scope(repository),)), 200)
            tags += response.json().get("tags") or []
            link = response.headers.get("Link", "")
            match = re.match(r"\s*<([^>]+)>", link)
            url = urljoin(response.url, match.group(1)) if match else ""
        return tags

    # --- blobs ---------------------------------------------------------------------------------

    def head_blob(self, repository: str, digest: str) -> int | None:
        """The blob's size when the repository has it, else None."""
        validate_repository(repository)
        validate_digest(digest)
        response = self._request("HEAD", self._url(f"/v2/{repository}/blobs/{digest}"),
                                 (self._scope(repository),))
        response.close()
        if response.status_code == 404:
            return None
        self._expect(response, 200)
        return int(response.headers.get("Content-Length") or 0)

    def get_blob(self, repository: str, digest: str, dest: Path | str | None = None, *,
                 max_bytes: int = 32 * 1024 * 1024, progress: Callable[[int], None] | None = None):
        """Download a blob, checking its digest: to ``dest`` (returns the Path), or as bytes when
        ``dest`` is None (only for small blobs such as configs: at most ``max_bytes``)."""
        validate_repository(repository)
        validate_digest(digest)
        response = self._expect(self._request("GET", self._url(f"/v2/{repository}/blobs/{digest}"),
                                              (self._scope(repository),), stream=True), 200)
        algorithm, expected = digest.split(":", 1)
        sha = hashlib.new(algorithm)
        buffer = io.BytesIO() if dest is None else None
        out = None
        target = Path(dest) if dest is not None else None
        partial = target.with_name(target.name + ".part") if target is not None else None
        try:
            out = open(partial, "wb") if partial is not None else buffer  # noqa: SIM115
            received = 0
            for chunk in response.iter_content(1024 * 1024):
                received += len(chunk)
                if buffer is not None and received > max_bytes:
                    raise RegistryError(0, "SIZE_INVALID", f"blob {digest} is larger than {max_bytes} bytes")
                sha.update(chunk)
                out.write(chunk)
                if progress:
                    progress(received)
        finally:
            response.close()
            if partial is not None and out is not None:
                out.close()
        if sha.hexdigest() != expected:
            if partial is not None:
                partial.unlink(missing_ok=True)
            raise RegistryError(0, "DIGEST_INVALID", f"blob {digest} arrived with a different digest")
        if partial is not None:
            os.replace(partial, target)
            return target
        return buffer.getvalue()

    def push_blob(self, repository: str, source: Path | str | bytes, digest: str | None = None,
                  size: int | None = None, *, mount_from: str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> str:
        """Make sure the repository holds the blob: EXISTING, MOUNTED (from ``mount_from`` of the
        same registry) or UPLOADED. A file is read chunk by chunk, never whole. ``progress(sent,
        total)`` is called as bytes go out; an exception it raises aborts the upload."""
        validate_repository(repository)
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
            digest = digest or mt.sha256_digest(data)
            size = len(data) if size is None else size
            path = None
        else:
            path = Path(source)
            data = None
            if digest is None or size is None:
                digest, size = _file_digest(path)
        validate_digest(digest)
        if self.head_blob(repository, digest) is not None:
            return EXISTING

        push = (self._scope(repository, push=True),)
        uploads = self._url(f"/v2/{repository}/blobs/uploads/")
        if mount_from and mount_from != repository:
            validate_repository(mount_from)
            response = self._request("POST", _add_query(uploads, mount=digest, **{"from": mount_from}),
                                     push + (self._scope(mount_from),))
            response.close()
            if response.status_code == 201:
                return MOUNTED
            self._expect(response, 202)  # the registry could not mount: it opened an upload instead
        else:
            response = self._expect(self._request("POST", uploads, push), 202)
            response.close()
        location = self._location(response)
        try:
            if size <= self.monolithic_max:
                payload = data if data is not None else path.read_bytes()
                response = self._request(
                    "PUT", _add_query(location, digest=digest), push, body=lambda: payload,
                    headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(payload))})
                if progress:
                    progress(len(payload), size)
            else:
                response = self._upload_chunks(location, path, data, size, digest, push, response, progress)
            self._expect(response, 201, fallback=f"the registry refused blob {digest}")
            response.close()
        except BaseException:
            # Leave no half-written upload session behind (best effort: the registry expires them too).
            try:
                self._request("DELETE", location, push).close()
            except RegistryError:
                pass
            raise
        returned = response.headers.get("Docker-Content-Digest")
        if returned and returned != digest:
            raise RegistryError(0, "DIGEST_INVALID", f"the registry stored {returned}, not {digest}")
        return UPLOADED

    def _upload_chunks(self, location, path, data, size, digest, push, opened, progress):
        chunk = self.chunk_size
        minimum = opened.headers.get("OCI-Chunk-Min-Length")
        if minimum and minimum.isdigit():
            chunk = max(chunk, int(minimum))
        sent = 0
        fileobj = open(path, "rb") if path is not None else io.BytesIO(data)  # noqa: SIM115
        with fileobj:
            while sent < size:
                length = min(chunk, size - sent)
                start = sent

                def body(start=start, length=length):
                    return _Slice(fileobj, start, length)

                response = self._request("PATCH", location, push, body=body, headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{start}-{start + length - 1}",
                    "Content-Length": str(length)})
                self._expect(response, 202, fallback=f"the registry refused a chunk of blob {digest}")
                response.close()
                location = self._location(response)
                sent += length
                if progress:
                    progress(sent, size)
        return self._request("PUT", _add_query(location, digest=digest), push,
                             headers={"Content-Length": "0"})

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Ask the registry to link a blob of another of its repositories into this one (no bytes
        sent); False when it would not (the upload it opened instead is cancelled)."""
        validate_repository(repository)
        validate_repository(from_repository)
        validate_digest(digest)
        push = (self._scope(repository, push=True),)
        url = _add_query(self._url(f"/v2/{repository}/blobs/uploads/"), mount=digest, **{"from": from_repository})
        response = self._request("POST", url, push + (self._scope(from_repository),))
        response.close()
        if response.status_code == 201:
            return True
        self._expect(response, 202)
        self._request("DELETE", self._location(response), push).close()
        return False

    def delete_blob(self, repository: str, digest: str) -> None:
        response = self._request("DELETE", self._url(f"/v2/{repository}/blobs/{digest}"),
                                 (f"repository:{repository}:delete",))
        self._expect(response, 202, 200).close()

    # --- manifests -----------------------------------------------------------------------------

    def _fetch_manifest(self, repository: str, reference: str, accept: str = mt.MANIFEST_ACCEPT) -> Manifest | None:
        validate_repository(repository)
        response = self._request("GET", self._url(f"/v2/{repository}/manifests/{reference}"),
                                 (self._scope(repository),), headers={"Accept": accept}, stream=True)
        if response.status_code == 404:
            response.close()
            return None
        self._expect(response, 200)
        declared = int(response.headers.get("Content-Length") or 0)
        if declared > MAX_MANIFEST_BYTES:
            response.close()
            raise RegistryError(0, "SIZE_INVALID", f"manifest {reference} is larger than 4 MiB")
        raw = response.raw.read(MAX_MANIFEST_BYTES + 1, decode_content=True)
        response.close()
        if len(raw) > MAX_MANIFEST_BYTES:
            raise RegistryError(0, "SIZE_INVALID", f"manifest {reference} is larger than 4 MiB")
        digest = mt.sha256_digest(raw)
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(0, "DIGEST_INVALID", f"manifest {reference} arrived with digest {digest}")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise RegistryError(0, "MANIFEST_INVALID", f"manifest {reference} is not JSON") from exc
        if not isinstance(data, dict):
            raise RegistryError(0, "MANIFEST_INVALID", f"manifest {reference} is not a JSON object")
        content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
        media_type = data.get("mediaType") or content_type
        return Manifest(data=data, raw=raw, media_type=media_type, digest=digest)

    def get_manifest(self, repository: str, reference: str, *, platform: str = "linux/amd64",
                     resolve_index: bool = True) -> Manifest:
        """A manifest by tag or digest. An index (multi-platform image) resolves to its entry for
        ``platform`` unless ``resolve_index`` is False; raises MANIFEST_UNKNOWN when missing."""
        manifest = self._fetch_manifest(repository, reference)
        if manifest is None:
            raise RegistryError(404, "MANIFEST_UNKNOWN", f"{repository}:{reference} is not in the registry")
        if not (resolve_index and manifest.is_index):
            return manifest
        os_name, _, arch = platform.partition("/")
        arch, _, variant = arch.partition("/")
        for entry in manifest.data.get("manifests") or []:
            wanted = entry.get("platform") or {}
            if wanted.get("os") == os_name and wanted.get("architecture") == arch and (
                    not variant or wanted.get("variant") == variant):
                chosen = self.get_manifest(repository, entry["digest"], resolve_index=False)
                chosen.index_digest = manifest.digest
                return chosen
        raise RegistryError(404, "MANIFEST_UNKNOWN", f"{repository}:{reference} has no {platform} image")

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest a tag (or digest) names, or None when the registry does not have it."""
        validate_repository(repository)
        response = self._request("HEAD", self._url(f"/v2/{repository}/manifests/{reference}"),
                                 (self._scope(repository),), headers={"Accept": mt.MANIFEST_ACCEPT})
        response.close()
        if response.status_code == 404:
            return None
        self._expect(response, 200)
        digest = response.headers.get("Docker-Content-Digest")
        if digest:
            return digest
        manifest = self._fetch_manifest(repository, reference)
        return manifest.digest if manifest else None

    def push_manifest(self, repository: str, reference: str | None, manifest: bytes | dict,
                      media_type: str | None = None) -> str:
        """PUT a manifest under a tag, or by its digest (``reference`` None); returns its digest. A manifest with a
        ``subject`` is also listed in the referrers tag (``sha256-<hex>``) when the registry does
        not say it indexed it itself (no ``OCI-Subject`` header), as the spec asks of clients."""
        validate_repository(repository)
        raw = encode_json(manifest) if isinstance(manifest, dict) else bytes(manifest)
        data = manifest if isinstance(manifest, dict) else json.loads(raw)
        media_type = media_type or data.get("mediaType") or mt.OCI_MANIFEST
        digest = mt.sha256_digest(raw)
        reference = reference or digest
        response = self._request(
            "PUT", self._url(f"/v2/{repository}/manifests/{reference}"),
            (self._scope(repository, push=True),), body=lambda: raw,
            headers={"Content-Type": media_type, "Content-Length": str(len(raw))})
        self._expect(response, 201, fallback=f"the registry refused manifest {reference}")
        response.close()
        returned = response.headers.get("Docker-Content-Digest")
        if returned and returned != digest:
            raise RegistryError(0, "DIGEST_INVALID", f"the registry stored manifest {returned}, not {digest}")
        subject = data.get("subject")
        if subject and not response.headers.get("OCI-Subject"):
            self._add_referrer_to_fallback_tag(repository, subject["digest"], {
                "mediaType": media_type, "digest": digest, "size": len(raw),
                **({"artifactType": data.get("artifactType") or (data.get("config") or {}).get("mediaType")}
                   if data.get("artifactType") or data.get("config") else {}),
                **({"annotations": data["annotations"]} if data.get("annotations") else {}),
            })
        return digest

    def delete_manifest(self, repository: str, digest: str) -> None:
        response = self._request("DELETE", self._url(f"/v2/{repository}/manifests/{digest}"),
                                 (f"repository:{repository}:delete",))
        self._expect(response, 202, 200).close()

    # --- referrers -----------------------------------------------------------------------------

    @staticmethod
    def referrers_tag(digest: str) -> str:
        """The referrers tag schema's tag for a subject: ``<alg>-<hex>`` (OCI distribution 1.1)."""
        algorithm, _, encoded = digest.partition(":")
        return f"{algorithm}-{encoded}"[:128]

    def _add_to_index(self, index: dict, descriptor: dict) -> bool:
        entries = index.setdefault("manifests", [])
        if any(e.get("digest") == descriptor["digest"] for e in entries):
            return False
        entries.append(descriptor)
        return True

    def _add_referrer_to_fallback_tag(self, repository: str, subject_digest: str, descriptor: dict) -> None:
        tag = self.referrers_tag(subject_digest)
        existing = self._fetch_manifest(repository, tag, accept=mt.OCI_INDEX)
        index = existing.data if existing is not None and existing.media_type == mt.OCI_INDEX else {
            "schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}
        if self._add_to_index(index, descriptor):
            self.push_manifest(repository, tag, index, mt.OCI_INDEX)

    def referrers(self, repository: str, digest: str, artifact_type: str | None = None) -> list[dict]:
        """Descriptors of the manifests whose ``subject`` is ``digest``: from the referrers API, or
        the referrers tag when the registry has no such API (it answers 404)."""
        validate_repository(repository)
        validate_digest(digest)
        url = self._url(f"/v2/{repository}/referrers/{digest}")
        response = self._request("GET", url, (self._scope(repository),), headers={"Accept": mt.OCI_INDEX},
                                 params={"artifactType": artifact_type} if artifact_type else None)
        content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
        if response.status_code == 200 and content_type == mt.OCI_INDEX:
            entries = response.json().get("manifests") or []
            response.close()
        elif response.status_code == 404:
            response.close()
            index = self._fetch_manifest(repository, self.referrers_tag(digest), accept=mt.OCI_INDEX)
            entries = (index.data.get("manifests") or []) if index is not None else []
        else:
            raise error_from(response, "the registry's referrers API failed")
        if artifact_type:
            entries = [e for e in entries if e.get("artifactType") == artifact_type]
        return entries
