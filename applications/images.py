"""Image references of components: which registry, and which digest a tag names now.

A revision pins every image to a digest (`<host>/<repository>@sha256:<hex>`), after checking it
exists: in the built-in registry through the registry app's selector, in an external registry
with the OCI client. Both are imported inside the functions that use them (`builtin_digest`,
`external_digest`): those packages are written alongside this one, and tests replace exactly
these two functions.

`parse()` is a small reader of `[host[:port]/]repository[:tag][@sha256:hex]`, enough to route a
reference; applications.oci.references.parse validates the full OCI grammar.
"""
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from paas.errors import DomainError

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
PLATFORM_NAMESPACE = "platform"


@dataclass(frozen=True)
class ImageRef:
    registry: str  # "" = the built-in registry
    repository: str
    tag: str
    digest: str

    @property
    def builtin(self) -> bool:
        return not self.registry

    @property
    def host(self) -> str:
        return self.registry or settings.REGISTRY_HOST

    @property
    def reference(self) -> str:
        return self.digest or self.tag

    def by_digest(self, digest: str) -> str:
        return f"{self.host}/{self.repository}@{digest}"


def _is_host(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost"


def parse(value: str) -> ImageRef:
    """Raise ValueError (in words) when it cannot be a reference."""
    rest, _sep, digest = value.partition("@")
    if digest and not DIGEST.match(digest):
        raise ValueError(_("the digest must be sha256: and 64 lowercase hex digits"))
    parts = rest.split("/")
    registry = parts[0] if len(parts) > 1 and _is_host(parts[0]) else ""
    if registry:
        parts = parts[1:]
    last = parts[-1]
    tag = ""
    if ":" in last:
        last, tag = last.rsplit(":", 1)
        parts[-1] = last
    repository = "/".join(parts)
    if not repository or any(not p for p in parts) or not re.match(r"^[a-z0-9]+([._/-][a-z0-9]+)*$", repository):
        raise ValueError(_("the repository must be lowercase path components, e.g. acme/payments-api"))
    if tag and not re.match(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$", tag):
        raise ValueError(_("the tag is not valid"))
    if not tag and not digest:
        tag = "latest"
    if registry == settings.REGISTRY_HOST:
        registry = ""  # the built-in registry named by its address
    return ImageRef(registry=registry, repository=repository, tag=tag, digest=digest)


def builtin_digest(tenant, repository: str, reference: str) -> str | None:
    """The digest `reference` names in the built-in registry, as the tenant sees it (None: absent)."""
    from applications.registry.selectors import manifest_for

    namespace = repository.split("/", 1)[0]
    if namespace == PLATFORM_NAMESPACE:
        owner = None
    elif namespace == tenant.slug:
        owner = tenant
    else:
        return None  # another tenant's repositories do not exist for this one
    manifest = manifest_for(owner, repository, reference)
    return getattr(manifest, "digest", None) if manifest is not None else None


# A revision is created in a web request: an external registry that does not answer within this
# is reported as unreachable rather than holding the request (the kubelet's own check is shorter).
EXTERNAL_TIMEOUT = 15.0


def _is_loopback(host: str) -> bool:
    return host.startswith(("127.", "localhost", "[::1]"))


def external_client(tenant, host: str):
    """A client of external registry `host` as the tenant reaches it: the platform's entry for the
    host (the tenant's own, else a platform-wide one) gives its URL, TLS setting and login. A host
    without an entry is asked anonymously, over HTTPS with certificates checked (plain HTTP on
    loopback, where development and test registries listen)."""
    from applications.oci.client import RegistryClient
    from applications.registry.external import credentials_for, registry_for

    known = registry_for(tenant, host)
    if known is not None:
        url, insecure = known.url, known.insecure
    else:
        url, insecure = (f"http://{host}", True) if _is_loopback(host) else (f"https://{host}", False)
    username, password = credentials_for(tenant, host) or (None, None)
    return RegistryClient(url, username=username, password=password, insecure=insecure, timeout=EXTERNAL_TIMEOUT)


def _refused(host: str, repository: str, code: str, with_login: bool) -> DomainError:
    if with_login:
        message = _("registry %(host)s refused the login the platform holds for it (%(code)s): correct the "
                    "external registry's username and password, or give that account pull access to %(repository)s")
    else:
        message = _("registry %(host)s asks for a login (%(code)s): register it as an external registry with a "
                    "username and password that may pull %(repository)s")
    return DomainError(message % {"host": host, "code": code, "repository": repository}, code="registry_denied")


def external_digest(tenant, registry: str, repository: str, reference: str) -> str | None:
    """The digest in an external registry (None: absent); DomainError (codes registry_denied,
    registry_unreachable, registry_error) when it cannot tell, in words that say what to fix."""
    from applications.oci.client import RegistryError, RegistryUnreachable

    client = external_client(tenant, registry)
    try:
        return client.manifest_digest(repository, reference)
    except RegistryUnreachable:
        raise DomainError(_("registry %(host)s cannot be reached") % {"host": registry},
                          code="registry_unreachable") from None
    except RegistryError as exc:
        if exc.status == 404:
            return None  # distribution answers NAME_UNKNOWN for a repository it has never seen
        if exc.status in (401, 403):
            raise _refused(registry, repository, exc.code, client.username is not None) from None
        raise DomainError(_("registry %(host)s answered: %(error)s") % {"host": registry, "error": exc},
                          code="registry_error") from None
    finally:
        client.close()


def resolve(tenant, value: str, path: str) -> str:
    """The image pinned to its digest, e.g. 127.0.0.1:8000/acme/api@sha256:…; a DomainError naming
    `path` when it does not exist (or cannot be checked)."""
    try:
        ref = parse(value)
    except ValueError as exc:
        raise DomainError(f"{path}: {exc}", field=path) from None
    try:
        if ref.builtin:
            digest = builtin_digest(tenant, ref.repository, ref.reference)
        else:
            digest = external_digest(tenant, ref.registry, ref.repository, ref.reference)
    except DomainError as exc:
        raise DomainError(f"{path}: {exc.message}", field=path, code=exc.code) from None
    if not digest or (ref.digest and digest != ref.digest):
        raise DomainError(_("%(path)s: %(image)s was not found in registry %(host)s")
                          % {"path": path, "image": value, "host": ref.host}, field=path, code="image_not_found")
    return ref.by_digest(digest)


def digest_of(pinned: str) -> str:
    return pinned.rpartition("@")[2]


def has_provenance(tenant, pinned: str) -> bool:
    """Did a build of this platform produce this image and keep its provenance record?"""
    from applications.builds.models import Build

    return (Build.objects.filter(tenant=tenant, state=Build.State.SUCCEEDED, image_digest=digest_of(pinned))
            .exclude(provenance_digest="").exists())


def build_for(tenant, pinned_images: list[str]):
    """The succeeded build that produced one of these images (the first found), or None."""
    from applications.builds.models import Build

    digests = [digest_of(p) for p in pinned_images]
    return (Build.objects.filter(tenant=tenant, state=Build.State.SUCCEEDED, image_digest__in=digests)
            .order_by("-finished_at", "-pk").first())
