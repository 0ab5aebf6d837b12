"""Secret env values at rest: Fernet, as cluster credentials are kept (clusters/crypto.py), with a
key of their own.

APPLICATION_SECRETS_KEY (Fernet keys, "new,old" to rotate) is used when set; otherwise a key is
derived from SECRET_KEY with HKDF under a salt of its own, so a leaked kubeconfig key does not open
application secrets and a development setup needs nothing extra.

`version()` names a set of values without revealing them: an HMAC (keyed, so a weak password
cannot be found by hashing guesses) that revisions and their diffs show instead of the values.
"""
import base64
import hashlib
import hmac
import json
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils.translation import gettext as _

from paas.errors import DomainError


def _derive(secret: str, info: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"paas-application-secrets", info=info)
    return hkdf.derive(secret.encode("utf-8"))


@cache
def _fernet(configured: str, secret_key: str) -> MultiFernet:
    keys = [k.strip().encode() for k in configured.split(",") if k.strip()]
    keys = keys or [base64.urlsafe_b64encode(_derive(secret_key, b"fernet-v1"))]
    return MultiFernet([Fernet(k) for k in keys])


def _current() -> MultiFernet:
    return _fernet(getattr(settings, "APPLICATION_SECRETS_KEY", ""), settings.SECRET_KEY)


def seal(values: dict) -> bytes:
    """{...} -> an encrypted token (b"" for nothing)."""
    if not values:
        return b""
    return _current().encrypt(json.dumps(values, sort_keys=True).encode("utf-8"))


def unseal(token) -> dict:
    token = bytes(token or b"")
    if not token:
        return {}
    try:
        return json.loads(_current().decrypt(token).decode("utf-8"))
    except InvalidToken:
        raise DomainError(_("secret_env: the stored secret values cannot be decrypted with the configured key"),
                          field="secret_env") from None


def version(values: dict) -> str:
    """A short keyed fingerprint of a set of secret values ("" for none)."""
    if not values:
        return ""
    key = _derive(settings.SECRET_KEY, b"fingerprint-v1")
    digest = hmac.new(key, json.dumps(values, sort_keys=True).encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:12]
