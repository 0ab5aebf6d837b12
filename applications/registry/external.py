"""External registries (Harbor, distribution, cloud registries): addresses and credentials.

Passwords are encrypted at rest with the key that protects cluster kubeconfigs (clusters.crypto:
Fernet, CLUSTER_CREDENTIALS_KEY or derived from SECRET_KEY, rotatable) and leave this module
only through `credentials_for`, for builds pushing and for image pull secrets.
"""
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext as _

from clusters import crypto
from paas.errors import DomainError

from .models import ExternalRegistry

# Docker Hub answers under several names; image references say docker.io.
DOCKER_HUB = "docker.io"
_ALIASES = {"index.docker.io": DOCKER_HUB, "registry-1.docker.io": DOCKER_HUB, "registry.hub.docker.com": DOCKER_HUB}


def normalise_host(host: str) -> str:
    host = host.strip().lower().rstrip("/")
    if host.endswith(":443"):
        host = host[:-4]
    return _ALIASES.get(host, host)


def parse_url(url: str) -> tuple[str, str]:
    """(canonical URL, host) of a registry address; "harbor.example.com" means https.
    DomainError naming `url` for anything else than scheme://host[:port]."""
    text = url.strip()
    if "://" not in text:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port  # raises on a bad port
    except ValueError:
        raise DomainError(_("Not a registry address: use https://host[:port]."), field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password \
            or parts.query or parts.fragment or parts.path not in ("", "/"):
        raise DomainError(_("Not a registry address: use https://host[:port], without a path or credentials."),
                          field="url")
    host = parts.hostname + (f":{port}" if port else "")
    return f"{parts.scheme}://{host}", normalise_host(host)


def encrypt_password(password: str) -> bytes:
    return crypto.encrypt(password) if password else b""


def password_of(registry: ExternalRegistry) -> str:
    return crypto.decrypt(registry.password_encrypted) if registry.password_encrypted else ""


def registry_for(tenant, registry_host: str) -> ExternalRegistry | None:
    """The tenant's own entry for the host, else a platform-wide one."""
    host = normalise_host(registry_host)
    found = ExternalRegistry.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True), host=host) \
        if tenant is not None else ExternalRegistry.objects.filter(tenant__isnull=True, host=host)
    return sorted(found, key=lambda r: r.tenant_id is None)[0] if found else None


def credentials_for(tenant, registry_host: str) -> tuple[str, str] | None:
    """(username, password) to use for `registry_host` ("harbor.example.com", "10.0.0.5:5000") on
    behalf of `tenant` (None: platform-wide entries only), or None when no entry has credentials.
    The built-in registry is not external: its callers use applications.registry.auth.issue_token."""
    if normalise_host(registry_host) == normalise_host(settings.REGISTRY_HOST):
        return None
    registry = registry_for(tenant, registry_host)
    if registry is None or not (registry.username or registry.password_encrypted):
        return None
    return registry.username, password_of(registry)
