"""The key that signs audit checkpoints, kept out of the database.

Whoever can write the database can rewrite rows and recompute every later hash;
they cannot produce a checkpoint signature without this key. Its text form is
`ed25519:<base64 of the 32-byte private key>` (preferred: the public half can be
handed to an outside verifier) or `hmac-sha256:<secret of 32+ characters>`, from
settings.AUDIT_SIGNING_KEY or the file named by AUDIT_SIGNING_KEY_FILE. In
development a missing key file is created on first use; production settings
refuse to start without a key.
"""
import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ED25519 = "ed25519"
HMAC = "hmac-sha256"


@dataclass(frozen=True)
class SigningKey:
    algorithm: str
    secret: bytes  # Ed25519 private seed, or the HMAC secret

    @property
    def key_id(self) -> str:
        """Names the key without revealing it (the public key's digest for Ed25519)."""
        material = self._public_bytes() if self.algorithm == ED25519 else b"hmac:" + self.secret
        return hashlib.sha256(material).hexdigest()[:16]

    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.secret)

    def _public_bytes(self) -> bytes:
        return self._private().public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, message: bytes) -> str:
        if self.algorithm == ED25519:
            raw = self._private().sign(message)
        else:
            raw = hmac.new(self.secret, message, hashlib.sha256).digest()
        return base64.b64encode(raw).decode("ascii")

    def verify(self, message: bytes, signature: str) -> bool:
        try:
            raw = base64.b64decode(signature, validate=True)
        except (ValueError, TypeError):
            return False
        if self.algorithm == ED25519:
            try:
                self._private().public_key().verify(raw, message)
            except InvalidSignature:
                return False
            return True
        return hmac.compare_digest(raw, hmac.new(self.secret, message, hashlib.sha256).digest())


def parse_key(text: str) -> SigningKey:
    algorithm, sep, value = text.strip().partition(":")
    if not sep:
        raise ImproperlyConfigured("AUDIT_SIGNING_KEY must start with 'ed25519:' or 'hmac-sha256:'.")
    if algorithm == ED25519:
        try:
            seed = base64.b64decode(value, validate=True)
        except ValueError:
            seed = b""
        if len(seed) != 32:
            raise ImproperlyConfigured("An ed25519 audit signing key is the base64 of 32 bytes.")
        return SigningKey(ED25519, seed)
    if algorithm == HMAC:
        if len(value) < 32:
            raise ImproperlyConfigured("An hmac-sha256 audit signing key needs 32+ characters.")
        return SigningKey(HMAC, value.encode("utf-8"))
    raise ImproperlyConfigured(f"Unknown audit signing algorithm {algorithm!r} (ed25519 or hmac-sha256).")


def generate_key_text() -> str:
    seed = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return f"{ED25519}:{base64.b64encode(seed).decode('ascii')}"


def _read_or_create(path: Path) -> str:
    if not path.exists() and not settings.PRODUCTION:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two processes starting at once must not each write their own key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(generate_key_text() + "\n")
    try:
        return path.read_text()
    except OSError as exc:
        raise ImproperlyConfigured(f"Cannot read the audit signing key file {path}: {exc.strerror}") from exc


@lru_cache(maxsize=8)
def _load(key_text: str, key_file: str) -> SigningKey:
    if key_text:
        return parse_key(key_text)
    if key_file:
        return parse_key(_read_or_create(Path(key_file)))
    raise ImproperlyConfigured("No audit signing key: set AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE.")


def signing_key() -> SigningKey:
    return _load(settings.AUDIT_SIGNING_KEY, str(settings.AUDIT_SIGNING_KEY_FILE or ""))
