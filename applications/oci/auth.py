"""Registry authentication as clients do it: the Bearer challenge and its token service, Basic, or
a pre-issued token.

A 401 carries ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``; the realm is asked for
a token for the scopes the request needs (plus any the challenge names), with HTTP Basic
credentials (a user name and an API token as password) when there are any, and the token is
cached per scope until shortly before it expires. Once the realm is known, a request for a new
scope gets its token first rather than after another 401, so an upload's body is not sent twice.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import requests

from .errors import RegistryError, RegistryUnreachable, error_from


@dataclass
class _Token:
    value: str
    expires_at: float


@dataclass
class _State:
    scheme: str = ""  # "" until a challenge was seen; then "bearer" or "basic"
    realm: str = ""
    service: str = ""
    tokens: dict = field(default_factory=dict)  # scope key -> _Token


def parse_challenge(header: str) -> tuple[str, dict]:
    """The first Bearer challenge of a WWW-Authenticate header, else its Basic one."""
    found = []
    for match in re.finditer(r"(Bearer|Basic)\s*((?:[a-zA-Z_]+=(?:\"[^\"]*\"|[^,\s]*)\s*,?\s*)*)",
                             header, re.IGNORECASE):
        params = {k.lower(): v.strip('"') for k, v in re.findall(r"([a-zA-Z_]+)=(\"[^\"]*\"|[^,\s]*)",
                                                                   match.group(2))}
        found.append((match.group(1).lower(), params))
    for scheme, params in found:
        if scheme == "bearer":
            return scheme, params
    return found[0] if found else ("", {})


class Authenticator:
    """The credentials of one client and what the registry told it about how to use them."""

    def __init__(self, session: requests.Session, username: str | None, password: str | None,
                 token: str | None, timeout: float):
        self.session = session
        self.username = username
        self.password = password
        self.token = token
        self.timeout = timeout
        self.state = _State()
        self.lock = threading.Lock()

    def header(self, scopes: tuple[str, ...]) -> str | None:
        """The Authorization header for a request needing ``scopes`` (None: send none yet)."""
        if self.token:
            return f"Bearer {self.token}"
        auth = self.state
        if auth.scheme == "basic" and self.username is not None:
            return requests.auth._basic_auth_str(self.username, self.password or "")
        if auth.scheme == "bearer":
            with self.lock:
                cached = auth.tokens.get(scopes)
            if cached and cached.expires_at > time.monotonic():
                return f"Bearer {cached.value}"
            # The realm is known: ask for this scope's token now rather than after another 401
            # (which would mean sending an upload's body twice).
            token = self.fetch_token(scopes)
            return f"Bearer {token}" if token else None
        return None

    def fetch_token(self, scopes: Iterable[str]) -> str | None:
        auth = self.state
        scopes = tuple(scopes)
        params = [("service", auth.service)] if auth.service else []
        params += [("scope", s) for s in scopes]
        basic = (self.username, self.password or "") if self.username is not None else None
        try:
            response = self.session.get(auth.realm, params=params, auth=basic, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryUnreachable(0, "UNREACHABLE", f"cannot reach the token service {auth.realm}: {exc}") from exc
        if response.status_code != 200:
            error = error_from(response)
            raise RegistryError(response.status_code, error.code,
                                f"the token service {auth.realm} refused the credentials: {error.message}")
        try:
            body = response.json()
        except ValueError as exc:
            raise RegistryError(response.status_code, "INVALID_RESPONSE", "the token service answered no JSON") from exc
        value = body.get("token") or body.get("access_token")
        if not value:
            raise RegistryError(response.status_code, "INVALID_RESPONSE", "the token service answered no token")
        lifetime = body.get("expires_in") or 60
        with self.lock:
            auth.tokens[scopes] = _Token(value, time.monotonic() + max(5, int(lifetime) - 10))
        return value

    def answer(self, header: str, scopes: tuple[str, ...]) -> bool:
        """Prepare credentials for a retry after a 401; False when there is nothing new to try."""
        if self.token:
            return False  # a pre-issued token was refused: nothing else to offer
        scheme, params = parse_challenge(header or "")
        auth = self.state
        if scheme == "bearer" and params.get("realm"):
            auth.scheme, auth.realm, auth.service = "bearer", params["realm"], params.get("service", "")
            wanted = list(scopes)
            for extra in (params.get("scope") or "").split():
                if extra not in wanted:
                    wanted.append(extra)
            token = self.fetch_token(wanted)
            if tuple(wanted) != scopes:
                with self.lock:
                    auth.tokens[scopes] = auth.tokens[tuple(wanted)]
            return bool(token)
        if scheme == "basic" and self.username is not None and auth.scheme != "basic":
            auth.scheme = "basic"
            return True
        return False
