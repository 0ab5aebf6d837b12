"""Image references: ``[registry-host[:port]/]repo/path[:tag][@sha256:hex]``.

The grammar is the OCI distribution spec's (repository path components, tags, digests) with
Docker's rule for telling a registry host from the first path component: it names a host when
it contains a dot or a colon, or is ``localhost``. A reference without a host means the
platform's built-in registry (``settings.REGISTRY_HOST``), so ``FROM platform/jre:17`` in a
Dockerfile pulls from it. There is no ``docker.io/library/`` expansion: nothing here reaches
Docker Hub implicitly.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

# OCI distribution spec, "Pulling manifests": <name> and <reference> grammars.
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
# A host name or IPv4 address, or a bracketed IPv6 address, with an optional port.
_HOST_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*"
    r"|\[[a-fA-F0-9:.]+\])(?::[0-9]{1,5})?$")
# Docker's limit for the repository name (the spec leaves it to registries; 255 is what they use).
MAX_REPOSITORY_LENGTH = 255


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest when pinned, else the tag ("latest" if none)."""
        return self.digest or self.tag or "latest"

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def by_digest(self, digest: str | None = None) -> str:
        """``registry/repository@sha256:...`` (what clusters are given: never a tag)."""
        digest = digest or self.digest
        if not digest:
            raise ValueError(f"{self} has no digest")
        return f"{self.name}@{digest}"

    def with_digest(self, digest: str) -> ImageRef:
        validate_digest(digest)
        return replace(self, digest=digest)

    def with_tag(self, tag: str) -> ImageRef:
        validate_tag(tag)
        return replace(self, tag=tag)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _default_registry() -> str:
    from django.conf import settings

    return settings.REGISTRY_HOST


def validate_repository(repository: str) -> str:
    if not repository:
        raise ValueError("the repository name is empty")
    if len(repository) > MAX_REPOSITORY_LENGTH:
        raise ValueError(f"the repository name is longer than {MAX_REPOSITORY_LENGTH} characters")
    if not REPOSITORY_RE.match(repository):
        raise ValueError(
            f"invalid repository name {repository!r}: path components are lowercase letters and digits, "
            "separated by '.', '_', '__' or '-', joined by '/'")
    return repository


def validate_tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        raise ValueError(
            f"invalid tag {tag!r}: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'")
    return tag


def validate_digest(digest: str) -> str:
    if not DIGEST_RE.match(digest):
        raise ValueError(f"invalid digest {digest!r}: expected algorithm:hex, e.g. sha256:<64 hex digits>")
    algorithm = digest.split(":", 1)[0]
    if algorithm == "sha256" and not SHA256_RE.match(digest):
        raise ValueError(f"invalid digest {digest!r}: a sha256 digest is 64 lowercase hex digits")
    if algorithm not in ("sha256", "sha512"):
        raise ValueError(f"unsupported digest algorithm {algorithm!r} in {digest!r}")
    if algorithm == "sha512" and not re.match(r"^sha512:[a-f0-9]{128}$", digest):
        raise ValueError(f"invalid digest {digest!r}: a sha512 digest is 128 lowercase hex digits")
    return digest


def _looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost" or component.startswith("[")


def parse(ref: str, *, default_registry: str | None = None) -> ImageRef:
    """Parse an image reference; ``ValueError`` says what is wrong with it.

    ``platform/jre:17`` -> ImageRef(REGISTRY_HOST, "platform/jre", "17", None);
    ``reg.example:5000/acme/app@sha256:...`` keeps its host and digest.
    """
    if not isinstance(ref, str):
        raise ValueError("an image reference must be a string")
    text = ref.strip()
    if not text:
        raise ValueError("the image reference is empty")
    if any(c.isspace() for c in text):
        raise ValueError(f"invalid image reference {ref!r}: it contains white space")
    if "://" in text:
        raise ValueError(f"invalid image reference {ref!r}: no scheme (http://, https://) in image references")

    digest = None
    if "@" in text:
        text, digest = text.rsplit("@", 1)
        validate_digest(digest)
    registry = None
    first, sep, rest = text.partition("/")
    if sep and _looks_like_host(first):
        if not _HOST_RE.match(first):
            raise ValueError(f"invalid registry host {first!r} in {ref!r}")
        if ":" in first and not first.endswith("]"):
            port = int(first.rsplit(":", 1)[1])
            if not 0 < port < 65536:
                raise ValueError(f"invalid registry port in {ref!r}")
        registry, text = first, rest
    tag = None
    # The tag is after the last colon of the last path component (a colon before a slash is a port,
    # handled above).
    last_slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > last_slash:
        text, tag = text[:colon], text[colon + 1:]
        validate_tag(tag)
    validate_repository(text)
    if registry is None:
        registry = default_registry or _default_registry()
    return ImageRef(registry=registry, repository=text, tag=tag, digest=digest)
