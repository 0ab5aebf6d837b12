"""Credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key from settings.

CLUSTER_CREDENTIALS_KEY (a Fernet key) is used when set; otherwise a key is
derived from SECRET_KEY with HKDF, so a development setup needs nothing extra.
Rotating: set CLUSTER_CREDENTIALS_KEY to "new,old" — the first encrypts, all decrypt.
"""
import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils.translation import gettext as _


class CredentialsUnreadable(Exception):
    """Stored credentials cannot be decrypted with the configured key(s)."""


def _derived_key(secret: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"paas-cluster-credentials", info=b"fernet-v1")
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode("utf-8")))


@cache
def _fernet(configured: str, secret_key: str) -> MultiFernet:
    keys = [k.strip().encode() for k in configured.split(",") if k.strip()] or [_derived_key(secret_key)]
    return MultiFernet([Fernet(k) for k in keys])


def _current() -> MultiFernet:
    return _fernet(getattr(settings, "CLUSTER_CREDENTIALS_KEY", ""), settings.SECRET_KEY)


def encrypt(plaintext: str) -> bytes:
    return _current().encrypt(plaintext.encode("utf-8"))


def decrypt(token: bytes | memoryview) -> str:
    try:
        return _current().decrypt(bytes(token)).decode("utf-8")
    except InvalidToken as exc:
        raise CredentialsUnreadable(_("Cluster credentials cannot be decrypted with the configured key.")) from exc
