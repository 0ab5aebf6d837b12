"""A raw HTTP registry client for the contract tests: `requests`, plus Docker's token flow
(on a 401 Bearer challenge, fetch a token for the challenge's scope with HTTP Basic, retry once).
Paths are sent as given (http.client for hostile ones: requests would normalise "..")."""
import base64
import http.client
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from . import images

CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header: str) -> dict:
    scheme, _, rest = header.partition(" ")
    return {"scheme": scheme.lower(), **dict(CHALLENGE_RE.findall(rest))}


@dataclass
class Client:
    base: str
    username: str | None = None
    password: str | None = None
    tokens: dict = field(default_factory=dict)  # scope -> token
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def host(self) -> str:
        return urlsplit(self.base).netloc

    def token(self, challenge: dict, extra_scopes: tuple = ()) -> str | None:
        scopes = [s for s in (challenge.get("scope", ""), *extra_scopes) if s]
        key = " ".join(scopes)
        if key in self.tokens:
            return self.tokens[key]
        params = {"service": challenge.get("service", ""), "scope": scopes}
        auth = (self.username, self.password) if self.username else None
        response = self.session.get(challenge["realm"], params=params, auth=auth, timeout=30)
        if response.status_code != 200:
            return None
        self.tokens[key] = response.json()["token"]
        return self.tokens[key]

    def request(self, method: str, path: str, *, extra_scopes: tuple = (), **kwargs) -> requests.Response:
        """`extra_scopes`: also asked for when fetching a token (Docker clients add
        ``repository:<from>:pull`` to a push that mounts from another repository)."""
        url = path if path.startswith("http") else self.base + path
        kwargs.setdefault("timeout", 60)
        kwargs.setdefault("allow_redirects", False)
        headers = dict(kwargs.pop("headers", None) or {})
        response = self.session.request(method, url, headers=headers, **kwargs)
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        # 401: no token yet; 403 with a challenge: the token was issued for less (insufficient_scope).
        if response.status_code in (401, 403) and challenge["scheme"] == "bearer":
            token = self.token(challenge, extra_scopes)
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
                response = self.session.request(method, url, headers=headers, **kwargs)
        return response

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # --- conveniences ---------------------------------------------------------------------

    def push_blob(self, name: str, data: bytes) -> requests.Response:
        """Monolithic POST; a registry without single-POST uploads (distribution 2.8) answers 202
        with a session, as the spec allows, and the bytes then go in one PUT."""
        digest = images.digest_of(data)
        headers = {"Content-Type": "application/octet-stream"}
        response = self.post(f"/v2/{name}/blobs/uploads/?digest={digest}", data=data, headers=headers)
        if response.status_code != 202:
            return response
        return self.put(with_param(response.headers["Location"], "digest", digest), data=data, headers=headers)

    def push_image(self, name: str, img: images.Image, reference: str) -> requests.Response:
        for data in img.blobs.values():
            response = self.push_blob(name, data)
            assert response.status_code == 201, (response.status_code, response.text)
        return self.put_manifest(name, reference, img.manifest, img.media_type)

    def put_manifest(self, name: str, reference: str, body: bytes, media_type: str) -> requests.Response:
        return self.put(f"/v2/{name}/manifests/{reference}", data=body, headers={"Content-Type": media_type})

    def raw(self, method: str, path: str, *, headers: dict | None = None, body: bytes | None = None):
        """Send the path byte for byte (no dot-segment normalisation); (status, headers, body)."""
        parts = urlsplit(self.base)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        headers = dict(headers or {})
        if self.username and "Authorization" not in headers:
            basic = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


def with_param(location: str, key: str, value: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}{key}={value}"


def error_codes(response) -> list[str]:
    try:
        return [e.get("code") for e in response.json().get("errors", [])]
    except ValueError:
        return []
