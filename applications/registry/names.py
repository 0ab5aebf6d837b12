"""Repository names, tags and digests as the OCI distribution spec spells them.

Checked before anything touches the database or the disk: a name like ``../x`` or ``a/b/../../c``
never matches, so no path is ever built from an unchecked string.
"""
import re

from .models import PLATFORM_NAMESPACE

# distribution-spec: <name> components separated by "/", total length limited (we keep 255).
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
# Only sha256 is stored; other algorithms are refused as DIGEST_INVALID / unsupported.
SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
MAX_NAME_LENGTH = 255


def valid_name(name: str) -> bool:
    # Two components at least: <namespace>/<repository>, the namespace being a tenant or platform.
    return len(name) <= MAX_NAME_LENGTH and "/" in name and bool(NAME_RE.match(name))


def namespace(name: str) -> str:
    return name.split("/", 1)[0]


def is_platform(name: str) -> bool:
    return namespace(name) == PLATFORM_NAMESPACE


def valid_tag(tag: str) -> bool:
    return bool(TAG_RE.match(tag))


def is_digest(reference: str) -> bool:
    return ":" in reference


def valid_digest(digest: str) -> bool:
    return bool(SHA256_RE.match(digest))
