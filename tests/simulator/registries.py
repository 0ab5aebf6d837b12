"""Image registries for the simulator's image-pull tests.

- ``DistributionRegistry``: Debian's CNCF distribution registry (``/usr/bin/docker-registry``)
  on a free loopback port, storage in a temporary directory; images are pushed with raw
  HTTP (layer blob, config blob, manifest), as the OCI distribution spec describes.
- ``FakeRegistry``: a few lines of ``http.server`` that answer manifest HEAD/GET requests
  behind a Bearer token challenge served by their own token server (or a Basic challenge),
  worded as distribution words them, and remember what they were asked.
"""
from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

DOCKER_REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def require_docker_registry() -> str:
    """The registry binary; in CI (CI=true) its absence fails the test instead of skipping it."""
    if os.path.exists(DOCKER_REGISTRY):
        return DOCKER_REGISTRY
    message = f"{DOCKER_REGISTRY} is missing (Debian package docker-registry)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tiny_image(text: str) -> tuple[bytes, bytes, dict]:
    """(layer, config, manifest) of a one-file image; ``text`` makes it unique."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = text.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, io.BytesIO(data))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/hello"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha256(raw.getvalue())]}},
                        sort_keys=True).encode()
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config),
                           "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(layer),
                            "size": len(layer)}]}
    return layer, config, manifest


def _call(method: str, url: str, data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback test registry
        return response.status, response.headers, response.read()


class DistributionRegistry:
    """``issuer``: a ``TokenIssuer`` to guard it with distribution's own token authentication."""

    def __init__(self, root: Path, issuer: TokenIssuer | None = None):
        self.binary = require_docker_registry()
        self.issuer = issuer
        self.root = root
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.process: subprocess.Popen | None = None

    def start(self) -> DistributionRegistry:
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: error, accesslog: {disabled: true}}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.root / 'data'}}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: {self.host}}}\n"
            + (self.issuer.registry_config() if self.issuer else ""))
        self.process = subprocess.Popen([self.binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.process.stderr.read().decode()}")
            try:
                if _call("GET", f"{self.url}/v2/")[0] == 200:
                    return self
            except urllib.error.HTTPError as exc:
                if exc.code == 401 and self.issuer:
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not answer in 15 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def _auth(self, repository: str, headers: dict | None = None) -> dict:
        headers = dict(headers or {})
        if self.issuer:  # the test itself pushes and deletes with a token that may do everything
            headers["Authorization"] = "Bearer " + self.issuer.token("admin", repository, ["pull", "push", "delete"])
        return headers

    def push_blob(self, repository: str, data: bytes) -> str:
        digest = sha256(data)
        _, headers, _ = _call("POST", f"{self.url}/v2/{repository}/blobs/uploads/", b"", self._auth(repository))
        location = urllib.parse.urljoin(self.url, headers["Location"])
        location += ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": digest})
        status, _, _ = _call("PUT", location, data, self._auth(repository, {"Content-Type": "application/octet-stream"}))
        assert status == 201, status
        return digest

    def push_image(self, repository: str, tag: str, text: str | None = None) -> str:
        """Push a tiny image as ``repository:tag``; returns its manifest digest."""
        layer, config, manifest = tiny_image(text or f"{repository}:{tag} {secrets.token_hex(4)}")
        self.push_blob(repository, layer)
        self.push_blob(repository, config)
        body = json.dumps(manifest).encode()
        status, headers, _ = _call("PUT", f"{self.url}/v2/{repository}/manifests/{tag}", body,
                                   self._auth(repository, {"Content-Type": OCI_MANIFEST}))
        assert status == 201, status
        assert headers["Docker-Content-Digest"] == sha256(body)
        return sha256(body)

    def delete_manifest(self, repository: str, digest: str) -> None:
        status, _, _ = _call("DELETE", f"{self.url}/v2/{repository}/manifests/{digest}", None, self._auth(repository))
        assert status == 202, status

    def has(self, repository: str, reference: str) -> bool:
        try:
            return _call("HEAD", f"{self.url}/v2/{repository}/manifests/{reference}",
                         headers=self._auth(repository, {"Accept": OCI_MANIFEST}))[0] == 200
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise


# -- distribution's token authentication: a token server signing JWTs --------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """The token server distribution's ``auth: token`` expects: RS256 JWTs whose ``x5c`` header
    carries a certificate from the registry's ``rootcertbundle``, granting what ``access`` allows."""

    def __init__(self, root: Path, users: dict, access: dict):
        self.users, self.access = users, access  # access: user -> repositories (None: all)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubesim test token issuer")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.bundle = root / "token-issuer.crt"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.service, self.issuer = "kubesim-test-registry", "kubesim-test-issuer"
        self.requests: list[tuple] = []
        self.server = _Server(_IssuerHandler, self)
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def registry_config(self) -> str:
        return (f"auth: {{token: {{realm: '{self.realm}', service: {self.service}, issuer: {self.issuer}, "
                f"rootcertbundle: '{self.bundle}'}}}}\n")

    def token(self, user: str, repository: str, actions: list[str]) -> str:
        allowed = self.access.get(user, ()) if user != "admin" else None
        granted = actions if allowed is None or repository in allowed else []
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256",
                  "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]}
        claims = {"iss": self.issuer, "sub": user, "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": secrets.token_hex(8),
                  "access": [{"type": "repository", "name": repository, "actions": granted}]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- a registry behind a token server -----------------------------------------------------------

UNAUTHORIZED = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required", "detail": None}]}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler, owner: FakeRegistry):
        super().__init__(("127.0.0.1", 0), handler)
        self.owner = owner


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - quiet test output
        pass

    def _answer(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _basic_user(self) -> str | None:
        kind, _, value = self.headers.get("Authorization", "").partition(" ")
        if kind.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None
        return user if self.server.owner.users.get(user) == password else None


class _TokenHandler(_Handler):
    def do_GET(self):  # noqa: N802
        owner = self.server.owner
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        owner.token_requests.append((self.headers.get("Authorization", ""), query))
        user = self._basic_user()
        if user is None:  # this token server gives nothing to anonymous callers
            self._answer(401, UNAUTHORIZED, {"WWW-Authenticate": 'Basic realm="fake token server"'})
            return
        token = secrets.token_hex(8)
        owner.tokens[token] = (user, query.get("scope", ""))
        self._answer(200, {"token": token, "access_token": token, "expires_in": 300})


class _IssuerHandler(_Handler):
    def do_GET(self):  # noqa: N802
        issuer = self.server.owner
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        issuer.requests.append((self.headers.get("Authorization", ""), query))
        user = self._basic_user()
        _, repository, actions = (query.get("scope", "") + "::").split(":")[:3]
        if user is None or query.get("service") != issuer.service:
            self._answer(401, UNAUTHORIZED, {"WWW-Authenticate": 'Basic realm="token issuer"'})
            return
        token = issuer.token(user, repository, [a for a in actions.split(",") if a])
        self._answer(200, {"token": token, "access_token": token, "expires_in": 300})


class _RegistryHandler(_Handler):
    def do_HEAD(self):  # noqa: N802
        self._manifest()

    def do_GET(self):  # noqa: N802
        if self.path == "/v2/":
            self._answer(200, {})
            return
        self._manifest()

    def _manifest(self):
        owner = self.server.owner
        owner.requests.append((self.command, self.path, self.headers.get("Authorization", "")))
        if owner.delay:
            time.sleep(owner.delay)
        parts = self.path.split("/manifests/")
        repository, reference = parts[0].removeprefix("/v2/"), parts[-1]
        if len(parts) != 2 or not owner.allowed(self.headers.get("Authorization", ""), repository):
            self._answer(401, UNAUTHORIZED, {"WWW-Authenticate": owner.challenge(repository, self.headers)})
            return
        if reference.startswith("sha256:"):
            known = {d for (repo, _), d in owner.images.items() if repo == repository}
            digest = reference if reference in known else None
        else:
            digest = owner.images.get((repository, reference))
        if digest is None:
            self._answer(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})
            return
        self._answer(200, {"schemaVersion": 2}, {"Docker-Content-Digest": digest})


class FakeRegistry:
    """``scheme``: "bearer" (token server) or "basic"; ``access``: user -> repositories it may pull."""

    def __init__(self, scheme: str = "bearer", users: dict | None = None, access: dict | None = None,
                 realm: str | None = None):
        self.scheme = scheme
        self.users = users or {"robot": "s3cret"}
        self.access = access if access is not None else {user: None for user in self.users}  # None: all
        self.images: dict[tuple[str, str], str] = {}
        self.tokens: dict[str, tuple[str, str]] = {}
        self.requests: list[tuple] = []
        self.token_requests: list[tuple] = []
        self.delay = 0.0
        self.registry = _Server(_RegistryHandler, self)
        self.token_server = _Server(_TokenHandler, self)
        self.host = f"127.0.0.1:{self.registry.server_address[1]}"
        self.realm = realm or f"http://127.0.0.1:{self.token_server.server_address[1]}/token"
        self.service = "fake-registry"
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True)
                         for s in (self.registry, self.token_server)]

    def start(self) -> FakeRegistry:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in (self.registry, self.token_server):
            server.shutdown()
            server.server_close()

    def add(self, repository: str, tag: str) -> str:
        digest = sha256(f"{repository}:{tag}".encode())
        self.images[(repository, tag)] = digest
        return digest

    def _may_pull(self, user: str, repository: str) -> bool:
        repositories = self.access.get(user, ())
        return repositories is None or repository in repositories

    def allowed(self, authorization: str, repository: str) -> bool:
        kind, _, value = authorization.partition(" ")
        if self.scheme == "basic" and kind.lower() == "basic":
            user, _, password = base64.b64decode(value).decode().partition(":")
            return self.users.get(user) == password and self._may_pull(user, repository)
        if self.scheme == "bearer" and kind.lower() == "bearer" and value in self.tokens:
            user, scope = self.tokens[value]
            return scope == f"repository:{repository}:pull" and self._may_pull(user, repository)
        return False

    def challenge(self, repository: str, headers) -> str:
        if self.scheme == "basic":
            return 'Basic realm="fake-registry"'
        value = f'Bearer realm="{self.realm}",service="{self.service}",scope="repository:{repository}:pull"'
        if headers.get("Authorization", "").lower().startswith("bearer "):
            value += ',error="insufficient_scope"'  # a token that does not cover this repository
        return value


def dockerconfigjson(host_key: str, username: str, password: str, *, as_auth: bool = False) -> dict:
    """The ``data`` of a kubernetes.io/dockerconfigjson Secret."""
    entry = ({"auth": base64.b64encode(f"{username}:{password}".encode()).decode()} if as_auth
             else {"username": username, "password": password})
    config = json.dumps({"auths": {host_key: entry}}).encode()
    return {".dockerconfigjson": base64.b64encode(config).decode()}
