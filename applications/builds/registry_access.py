"""How a build reaches registries: the target (built-in or external) and the base images'.

- Built-in registry: the worker speaks to the web process at settings.REGISTRY_INTERNAL_URL
  with a short-lived bearer token issued for the user who started the build (push to the
  build's repository, pull of the base images it names), so the registry applies that
  user's permissions, not the worker's. Image references keep settings.REGISTRY_HOST, the
  name clusters pull by.
- External registries: credentials from the registry app (`credentials_for`), decrypted
  only here, in the worker, for the length of the build.
"""
import logging

from django.conf import settings
from django.utils.translation import gettext as _

from paas.errors import DomainError

from .models import Build

logger = logging.getLogger(__name__)


def builtin_host() -> str:
    return settings.REGISTRY_HOST


def target_host(build: Build) -> str:
    if not build.registry:
        return builtin_host()
    return external_registry(build).host


def image_host(build: Build) -> str:
    """The registry host image references of this build name ("" for a registry since removed)."""
    if not build.registry:
        return builtin_host()
    try:
        return external_registry(build).host
    except DomainError:
        return ""


def external_registry(build: Build):
    try:
        from applications.registry.models import ExternalRegistry
    except ImportError:
        raise DomainError(_("registry: external registries are not available."), field="registry") from None

    registry = ExternalRegistry.objects.filter(pk=build.registry).first()
    if registry is None:
        raise DomainError(_("registry: the external registry of this build no longer exists."), field="registry")
    return registry


def _client(base_url: str, insecure: bool = True, **credentials):
    from applications.oci.client import RegistryClient

    return RegistryClient(base_url, insecure=insecure, **credentials)


class Credentials:
    """Registry access for one run, given up when the run ends (see `close`)."""

    def __init__(self, build: Build, *, basic: bool):
        self.build = build
        self.basic = basic  # buildah logs in with a user name and password, not a bearer token
        self._tokens = []

    def builtin_client(self, base_repositories: list[str], *, push: bool = True):
        """A client of the built-in registry acting for the build's creator (pull of the base
        images; push to the build's repository when it is the target)."""
        build = self.build
        if build.created_by is None:
            raise DomainError(_("The account that started this build no longer exists: start it again."))
        if self.basic:
            return _client(settings.REGISTRY_INTERNAL_URL, username=build.created_by.get_username(),
                           password=self._api_token())
        from applications.registry.auth import issue_token

        scopes = [f"repository:{build.repository}:pull,push"] if push else []
        scopes += [f"repository:{repo}:pull" for repo in sorted(set(base_repositories)) if repo != build.repository]
        token = issue_token(user=build.created_by, tenant=build.tenant, scopes=scopes,
                            ttl=settings.BUILD_TIME_LIMIT_SECONDS + 120)
        return _client(settings.REGISTRY_INTERNAL_URL, token=token)

    def _api_token(self) -> str:
        """An API token of the creator for this run only (expiring with the time limit, revoked at
        the end): what the registry's token endpoint takes as a password."""
        from datetime import timedelta

        from django.utils import timezone

        from paas.actors import Actor
        from tenants.services import token_create

        build = self.build
        token, plaintext = token_create(
            actor=Actor.for_user(build.created_by), tenant=build.tenant, name=f"build {build.repository}#{build.number}",
            scope="write", expires_at=timezone.now() + timedelta(seconds=settings.BUILD_TIME_LIMIT_SECONDS + 300))
        self._tokens.append(token)
        return plaintext

    def close(self) -> None:
        from paas.actors import Actor
        from tenants.services import token_revoke

        for token in self._tokens:
            try:
                token_revoke(actor=Actor.for_user(token.user), token=token)
            except Exception as exc:  # noqa: BLE001 - it expires anyway; never fail a finished build over it
                logger.warning("build token %s not revoked: %s", token.prefix, exc.__class__.__name__)
        self._tokens = []


def external_client(build: Build, host: str):
    """A client of an external registry `host` with the credentials the platform holds for it, if any."""
    try:
        from applications.registry.external import credentials_for
    except ImportError:  # no external registries configured in this installation: anonymous pulls
        def credentials_for(tenant, host):
            return None

    try:
        from applications.registry.external import registry_for
    except ImportError:
        def registry_for(tenant, host):
            return None

    # The platform's entry for the host gives its scheme and TLS setting; an unknown host is https.
    known = registry_for(build.tenant, host)
    url, insecure = (known.url, known.insecure) if known is not None else (f"https://{host}", False)
    credentials = credentials_for(build.tenant, host)
    username, password = credentials if credentials else (None, None)
    return _client(url, insecure=insecure, username=username, password=password)


def clients_for(build: Build, base_images: list, credentials: Credentials):
    """(target client, base_client_for(host)) for a build whose FROM images are `base_images`
    (ImageRef values)."""
    builtin = builtin_host()
    builtin_bases = [ref.repository for ref in base_images if ref.registry == builtin]
    target_is_builtin = not build.registry
    clients = {}
    if target_is_builtin:
        clients[builtin] = credentials.builtin_client(builtin_bases)
        target = clients[builtin]
    else:
        target = external_client(build, target_host(build))

    def base_client_for(host: str):
        if host not in clients:
            if host == builtin:
                # Pull only: the target is elsewhere, the creator still needs the right to read the base.
                clients[host] = credentials.builtin_client(builtin_bases, push=False)
            else:
                clients[host] = external_client(build, host)
        return clients[host]

    return target, base_client_for
