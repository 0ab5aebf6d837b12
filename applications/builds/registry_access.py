"""How a build reaches registries: the target (built-in or external) and the base images'.

- Built-in registry: the worker speaks to the web process at settings.REGISTRY_INTERNAL_URL
  with a short-lived bearer token issued for the user who started the build (push to the
  build's repository, pull of the base images it names), so the registry applies that
  user's permissions, not the worker's. Image references keep settings.REGISTRY_HOST, the
  name clusters pull by.
- External registries: credentials from the registry app (`credentials_for`), decrypted
  only here, in the worker, for the length of the build.
"""
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from paas.errors import DomainError

from .models import Build


def builtin_host() -> str:
    return settings.REGISTRY_HOST


def target_host(build: Build) -> str:
    if not build.registry:
        return builtin_host()
    registry = external_registry(build)
    return urlsplit(registry.url).netloc or registry.url


def external_registry(build: Build):
    try:
        from applications.registry.models import ExternalRegistry
    except ImportError:
        raise DomainError(_("registry: external registries are not available."), field="registry") from None

    registry = ExternalRegistry.objects.filter(pk=build.registry).first()
    if registry is None:
        raise DomainError(_("registry: the external registry of this build no longer exists."), field="registry")
    return registry


def _client(base_url: str, **credentials):
    from applications.oci.client import RegistryClient

    return RegistryClient(base_url, insecure=True, **credentials)


def builtin_client(build: Build, base_repositories: list[str], *, push: bool = True):
    """A client of the built-in registry acting for the build's creator (pull of the base
    images; push to the build's repository when it is the target)."""
    from applications.registry.auth import issue_token

    if build.created_by is None:
        raise DomainError(_("The account that started this build no longer exists: start it again."))
    scopes = [f"repository:{build.repository}:pull,push"] if push else []
    scopes += [f"repository:{repo}:pull" for repo in sorted(set(base_repositories)) if repo != build.repository]
    token = issue_token(user=build.created_by, tenant=build.tenant, scopes=scopes,
                        ttl=settings.BUILD_TIME_LIMIT_SECONDS + 120)
    return _client(settings.REGISTRY_INTERNAL_URL, token=token)


def external_client(build: Build, host: str):
    """A client of an external registry `host` with the credentials the platform holds for it, if any."""
    try:
        from applications.registry.external import credentials_for
    except ImportError:  # no external registries configured in this installation: anonymous pulls
        def credentials_for(tenant, host):
            return None

    url = None
    if build.registry:
        registry = external_registry(build)
        if (urlsplit(registry.url).netloc or registry.url) == host:
            url = registry.url
    credentials = credentials_for(build.tenant, host)
    username, password = credentials if credentials else (None, None)
    return _client(url or f"https://{host}", username=username, password=password)


def clients_for(build: Build, base_images: list):
    """(target client, base_client_for(host)) for a build whose FROM images are `base_images`
    (ImageRef values)."""
    builtin = builtin_host()
    builtin_bases = [ref.repository for ref in base_images if ref.registry == builtin]
    target_is_builtin = not build.registry
    clients = {}
    if target_is_builtin:
        clients[builtin] = builtin_client(build, builtin_bases)
        target = clients[builtin]
    else:
        target = external_client(build, target_host(build))

    def base_client_for(host: str):
        if host not in clients:
            if host == builtin:
                # Pull only: the target is elsewhere, the creator still needs the right to read the base.
                clients[host] = builtin_client(build, builtin_bases, push=False) if not target_is_builtin else target
            else:
                clients[host] = external_client(build, host)
        return clients[host]

    return target, base_client_for
