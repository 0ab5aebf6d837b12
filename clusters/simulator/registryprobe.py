"""Asks an image's registry whether it has the image, as containerd's resolver does.

``RegistryProbe.check(ref, credentials)`` is blocking (plain ``http.client``, short
timeouts); the kubelet runs it on a worker thread (``controllers/imagepull.py``) so the
simulator's event loop never waits on a registry.

One ``HEAD /v2/<repository>/manifests/<tag or digest>`` with the OCI and Docker manifest
media types in Accept:

- 2xx: the image exists; its digest is the ``Docker-Content-Digest`` header;
- 404: not found;
- 401 with a ``Bearer realm=...,service=...,scope=...`` challenge: fetch a token from the
  realm (HTTP Basic with each credential the pod's pull secrets offer for this host, or
  anonymously when there are none) and ask again with it; a ``Basic`` challenge: ask again
  with each credential. Still 401/403: denied;
- the host does not answer (refused, no such name, connect timeout): unreachable. The
  kubelet then behaves as it did before registries were checked (the image is assumed
  present), and the host is not tried again for ``retry_after`` seconds.

Knobs (environment): ``KUBESIM_REGISTRY_CONNECT_TIMEOUT`` (1 s; also bounds a TLS
handshake), ``KUBESIM_REGISTRY_RETRY_AFTER`` (5 s), ``KUBESIM_IMAGE_CHECK=0`` (no checks).

Error details are worded as containerd words them (see ``kubelet_events``); when a
registry explains a refusal in its JSON error body (``{"errors": [{"code": "UNAUTHORIZED",
"message": "authentication required"}]}``) its words are added, as containerd 2 and CRI-O
show them ("unauthorized: authentication required").

Scheme: https first, plain http when the host does not speak TLS (http first for
localhost and loopback addresses, as local registries usually are); what worked is
remembered per host. Certificates are not verified: this is a development simulator.
"""
from __future__ import annotations

import hashlib
import http.client
import ipaddress
import json
import logging
import os
import re
import socket
import ssl
import threading
import time
from base64 import b64encode
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from .imageref import Credential, ImageRef

log = logging.getLogger("clusters.simulator")

MANIFEST_TYPES = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "*/*",
))
MAX_BODY = 4 * 1024 * 1024  # a manifest or an error document; anything larger is cut
USER_AGENT = "containerd/v2.0.0 (kubesim)"


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def checks_enabled() -> bool:
    """``KUBESIM_IMAGE_CHECK=0`` turns registry checks off (every image is assumed present)."""
    return os.environ.get("KUBESIM_IMAGE_CHECK", "1").strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class Outcome:
    kind: str  # "pulled", "notfound", "denied", "failed" (another status) or "unreachable"
    digest: str = ""
    detail: str = ""  # containerd's words after 'failed to resolve reference "<ref>": '


class Unreachable(Exception):
    """The host (a registry or its token realm) did not answer."""


@dataclass
class _Response:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    url: str

    @property
    def status_text(self) -> str:
        return f"{self.status} {self.reason}".strip()


def _is_local(authority: str) -> bool:
    host = urlsplit(f"//{authority}").hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """("bearer", {"realm": ..., "service": ..., "scope": ...}) from a WWW-Authenticate value."""
    scheme, _, rest = (header or "").strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)).replace('\\"', '"')
              for m in _PARAM.finditer(rest)}
    return scheme.lower(), params


def registry_errors(body: bytes) -> str:
    """ "unauthorized: authentication required" from a registry's JSON error document."""
    try:
        errors = json.loads(body or b"{}").get("errors")
    except (ValueError, AttributeError):
        return ""
    words = []
    for error in errors if isinstance(errors, list) else ():
        if isinstance(error, dict) and error.get("code"):
            code = str(error["code"]).lower().replace("_", " ")
            words.append(f"{code}: {error.get('message', '')}".rstrip(": "))
    return "; ".join(words)


def _basic(credential: Credential) -> str:
    return "Basic " + b64encode(f"{credential.username}:{credential.password}".encode()).decode()


class RegistryProbe:
    def __init__(self, *, connect_timeout: float | None = None, read_timeout: float = 5.0,
                 retry_after: float | None = None):
        self.connect_timeout = (connect_timeout if connect_timeout is not None
                                else _env_number("KUBESIM_REGISTRY_CONNECT_TIMEOUT", 1.0))
        self.read_timeout = read_timeout
        self.retry_after = retry_after if retry_after is not None else _env_number("KUBESIM_REGISTRY_RETRY_AFTER", 5.0)
        self._lock = threading.Lock()
        self._down_until: dict[str, float] = {}  # host -> monotonic time to try it again
        self._schemes: dict[str, str] = {}  # host -> the scheme that worked
        self._tls = ssl.create_default_context()
        self._tls.check_hostname = False
        self._tls.verify_mode = ssl.CERT_NONE

    # -- reachability ---------------------------------------------------------------------

    def known_down(self, host: str) -> bool:
        with self._lock:
            until = self._down_until.get(host)
            if until is not None and until <= time.monotonic():
                del self._down_until[host]
                until = None
        return until is not None

    def _mark_down(self, host: str) -> None:
        with self._lock:
            self._down_until[host] = time.monotonic() + self.retry_after
            self._schemes.pop(host, None)

    # -- HTTP -------------------------------------------------------------------------------

    def _connection(self, scheme: str, authority: str) -> http.client.HTTPConnection:
        """A connected HTTP(S) connection; Unreachable when nothing answers at all."""
        conn = (http.client.HTTPSConnection(authority, context=self._tls) if scheme == "https"
                else http.client.HTTPConnection(authority))
        try:
            sock = socket.create_connection((conn.host, conn.port), self.connect_timeout)
        except OSError as exc:  # refused, unknown name, connect timeout
            raise Unreachable(f"{authority}: {exc}") from exc
        try:
            if scheme == "https":  # the handshake stays under the short timeout too
                sock = self._tls.wrap_socket(sock, server_hostname=conn.host)
            sock.settimeout(self.read_timeout)
        except BaseException:
            sock.close()
            raise
        conn.sock = sock
        return conn

    def _send(self, scheme: str, authority: str, method: str, target: str, headers: dict) -> _Response:
        conn = self._connection(scheme, authority)
        try:
            conn.request(method, target, headers={"User-Agent": USER_AGENT, **headers})
            resp = conn.getresponse()
            body = b"" if method == "HEAD" else resp.read(MAX_BODY)
            return _Response(resp.status, resp.reason, resp.headers, body, f"{scheme}://{authority}{target}")
        finally:
            conn.close()

    def _request(self, host: str, method: str, target: str, headers: dict) -> _Response:
        """A request to registry ``host``, finding out whether it speaks https or http."""
        with self._lock:
            known = self._schemes.get(host)
        order = [known] if known else (["http", "https"] if _is_local(host) else ["https", "http"])
        last: Exception | None = None
        for scheme in order:
            try:
                response = self._send(scheme, host, method, target, headers)
            except (ssl.SSLError, http.client.HTTPException, ConnectionError, TimeoutError) as exc:
                last = exc  # connected, but the other side speaks the other protocol
                continue
            if scheme == "http" and response.status == 400 and (method == "HEAD" or b"HTTPS server" in response.body):
                # Go's TLS servers answer plain HTTP with "400 Client sent an HTTP request to an HTTPS server"
                last = http.client.HTTPException("plain HTTP to an HTTPS server")
                continue
            with self._lock:
                self._schemes[host] = scheme
            return response
        if known:  # the host changed its mind (restarted with or without TLS): learn again
            with self._lock:
                self._schemes.pop(host, None)
            return self._request(host, method, target, headers)
        raise Unreachable(f"{host}: {last}")

    def _get_url(self, url: str, headers: dict) -> _Response:
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        try:
            return self._send(parts.scheme or "https", parts.netloc, "GET", target, headers)
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            raise Unreachable(f"{parts.netloc}: {exc}") from exc

    # -- the check -------------------------------------------------------------------------

    def check(self, ref: ImageRef, credentials: list[Credential] = ()) -> Outcome:
        if self.known_down(ref.host):
            return Outcome("unreachable", detail=f"{ref.host} did not answer recently")
        target = f"/v2/{ref.repository}/manifests/{ref.reference}"
        try:
            response = self._head(ref, target)
        except Unreachable as exc:  # a registry that is not there (yet): usual in demos, quietly
            self._mark_down(ref.host)
            log.info("image %s/%s: registry unreachable (%s); assuming the image is present",
                     ref.host, ref.repository, exc)
            return Outcome("unreachable", detail=str(exc))
        try:
            return self._check(ref, target, response, list(credentials))
        except Unreachable as exc:  # it answered, then its token realm (or itself) did not
            self._mark_down(ref.host)
            log.warning("image %s/%s: registry unreachable in the middle of a pull (%s); "
                        "assuming the image is present", ref.host, ref.repository, exc)
            return Outcome("unreachable", detail=str(exc))

    def _head(self, ref: ImageRef, target: str, authorization: str | None = None) -> _Response:
        headers = {"Accept": MANIFEST_TYPES}
        if authorization:
            headers["Authorization"] = authorization
        return self._request(ref.host, "HEAD", target, headers)

    def _check(self, ref: ImageRef, target: str, response: _Response, credentials: list[Credential]) -> Outcome:
        if response.status != 401:
            return self._judge(ref, target, response, None)
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        outcome = None
        for credential in credentials or [None]:
            if scheme == "bearer" and params.get("realm"):
                token, refusal = self._token(ref, params, credential)
                if token is None:
                    outcome = Outcome("denied", detail=refusal)
                    continue
                authorization = f"Bearer {token}"
            elif scheme == "basic" and credential is not None:
                authorization = _basic(credential)
            else:  # containerd has no answer to this challenge: the 401 stands
                break
            outcome = self._judge(ref, target, self._head(ref, target, authorization), authorization)
            if outcome.kind != "denied":
                return outcome
        return outcome or self._judge(ref, target, response, None)

    def _token(self, ref: ImageRef, challenge: dict, credential: Credential | None) -> tuple[str | None, str]:
        query = {"scope": challenge.get("scope") or f"repository:{ref.repository}:pull"}
        if challenge.get("service"):
            query["service"] = challenge["service"]
        realm = challenge["realm"]
        url = f"{realm}{'&' if '?' in realm else '?'}{urlencode(query)}"
        headers = {"Accept": "application/json"}
        if credential is not None:
            headers["Authorization"] = _basic(credential)
        response = self._get_url(url, headers)
        how = "oauth" if credential is not None else "anonymous"
        if 200 <= response.status < 300:
            try:
                answer = json.loads(response.body)
                token = answer.get("token") or answer.get("access_token")
            except (ValueError, AttributeError):
                token = None
            if isinstance(token, str) and token:
                return token, ""
            return None, f"failed to authorize: failed to fetch {how} token: no token in the answer from {url}"
        detail = (f"failed to authorize: failed to fetch {how} token: unexpected status from GET request to "
                  f"{url}: {response.status_text}")
        words = registry_errors(response.body)
        return None, f"{detail}: {words}" if words else detail

    def _judge(self, ref: ImageRef, target: str, response: _Response, authorization: str | None) -> Outcome:
        if 200 <= response.status < 300:
            return Outcome("pulled", digest=self._digest(ref, target, response, authorization))
        if response.status == 404:
            return Outcome("notfound")
        detail = f"unexpected status from HEAD request to {response.url}: {response.status_text}"
        if response.status in (401, 403):
            _, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            if params.get("error"):
                detail = ("pull access denied, repository does not exist or may require authorization: "
                          f"server message: {params['error']}: authorization failed")
            words = self._refusal_words(ref, target, authorization)
            return Outcome("denied", detail=f"{detail}: {words}" if words else detail)
        return Outcome("failed", detail=detail)

    def _refusal_words(self, ref: ImageRef, target: str, authorization: str | None) -> str:
        """A HEAD answer has no body: ask once more with GET for the registry's own words."""
        headers = {"Accept": MANIFEST_TYPES}
        if authorization:
            headers["Authorization"] = authorization
        try:
            return registry_errors(self._request(ref.host, "GET", target, headers).body)
        except Unreachable:
            return ""

    def _digest(self, ref: ImageRef, target: str, response: _Response, authorization: str | None) -> str:
        digest = response.headers.get("Docker-Content-Digest", "")
        if digest or ref.digest:
            return digest or ref.digest
        headers = {"Accept": MANIFEST_TYPES}  # a registry that leaves the header out: hash the manifest
        if authorization:
            headers["Authorization"] = authorization
        try:
            body = self._request(ref.host, "GET", target, headers).body
        except Unreachable:
            return ""
        return "sha256:" + hashlib.sha256(body).hexdigest()


_shared: RegistryProbe | None = None
_shared_lock = threading.Lock()


def shared_probe() -> RegistryProbe:
    """One probe per process, so every simulated cluster shares what it learnt about hosts."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = RegistryProbe()
        return _shared

