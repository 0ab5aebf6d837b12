"""What every /v2/ endpoint shares: the error wrapper, authentication and the access check.

A repository the caller may not see answers exactly like one that does not exist: a 401
challenge for anonymous callers, NAME_UNKNOWN (404) for signed-in ones. Only a repository the
caller sees but may not change answers DENIED (403), e.g. a push with a read-only token.
"""
import logging
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from paas import lockout
from paas.audit.services import audit_record
from paas.context import client_ip

from .. import auth, names
from ..models import Repository
from .errors import API_VERSION_HEADER, RegistryError, name_unknown

logger = logging.getLogger(__name__)

# The scope a client must ask for to be allowed each action (sent back in the 401 challenge).
CHALLENGE_ACTIONS = {"pull": "pull", "push": "pull,push", "delete": "delete"}


def endpoint(view):
    """Wrap a /v2/ view: CSRF-exempt (tokens, not cookies), spec error bodies, the API version
    header, and no HTML page even for an unexpected failure."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except RegistryError as exc:
            response = exc.response()
        except Exception:
            logger.exception("registry: %s %s failed", request.method, request.path)
            response = RegistryError(500, "UNSUPPORTED", message="internal error; the request id identifies it "
                                     "in the logs").response()
        response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
        return response

    return wrapper


def empty(status: int, **headers) -> HttpResponse:
    response = HttpResponse(b"", status=status)
    del response["Content-Type"]
    response["Content-Length"] = "0"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


# --- authentication ---------------------------------------------------------------------------

@dataclass
class RequestAuth:
    principal: auth.Principal
    verified: auth.Verified | None  # None: Basic credentials, checked live

    def allows(self, kind: str, name: str, action: str) -> bool:
        if self.verified is not None:
            return self.verified.allows(kind, name, action)
        if kind == "registry":
            return not self.principal.anonymous
        return action in self.principal.actions(name)


def challenge(request, scope: str | None = None, *, error: str | None = None) -> RegistryError:
    realm = request.build_absolute_uri("/v2/token")
    value = f'Bearer realm="{realm}",service="{settings.REGISTRY_HOST}"'
    if scope:
        value += f',scope="{scope}"'
    if error:
        value += f',error="{error}"'
    return RegistryError(401, "UNAUTHORIZED", headers={"WWW-Authenticate": value})


def basic_principal(request, header: str) -> auth.Principal:
    """Username + API token; a failed attempt counts towards the address' lockout (429 past it)."""
    username, password = auth.parse_basic(header) or ("", "")
    try:
        return auth.principal_for_credentials(username, password)
    except auth.BadCredentials as exc:
        verdict = lockout.token_failed(address=client_ip(request.META), target=exc.target, reason=exc.reason)
        if verdict.locked:
            raise RegistryError(429, "TOO_MANY_REQUESTS", headers={"Retry-After": str(verdict.retry_after)}) from None
        raise challenge(request, error="invalid_token") from None


def request_auth(request) -> RequestAuth:
    cached = getattr(request, "_registry_auth", None)
    if cached is not None:
        return cached
    header = request.META.get("HTTP_AUTHORIZATION", "")
    kind, _, value = header.partition(" ")
    if not header:
        result = RequestAuth(auth.ANONYMOUS, auth.Verified(auth.ANONYMOUS, ()))
    elif kind.lower() == "bearer":
        verified = auth.verify(value.strip())
        if verified is None:
            raise challenge(request, error="invalid_token")
        result = RequestAuth(verified.principal, verified)
    elif kind.lower() == "basic":
        result = RequestAuth(basic_principal(request, header), None)
    else:
        raise challenge(request)
    request._registry_auth = result
    return result


def require(request, name: str, action: str) -> auth.Principal:
    """The principal, if it may take `action` on repository `name`; else the answer that gives
    nothing away (see the module docstring)."""
    if not names.valid_name(name):
        raise RegistryError(400, "NAME_INVALID", {"name": name[:300]})
    result = request_auth(request)
    if result.allows("repository", name, action):
        return result.principal
    scope = f"repository:{name}:{CHALLENGE_ACTIONS[action]}"
    if result.principal.anonymous:
        raise challenge(request, scope)
    live = result.principal.actions(name)
    if action in live:
        # Allowed, but the token was issued for less (a client that pulled first, e.g. oras
        # checking whether a blob exists before pushing it): RFC 6750's insufficient_scope, a 403
        # with the challenge naming the scope to ask for; oras-py asks for a new token on it.
        denied = challenge(request, scope, error="insufficient_scope")
        raise RegistryError(403, "DENIED", {"name": name, "action": action, "reason": "insufficient_scope"},
                            headers=denied.headers)
    _record_refusal(request, result.principal, name, action, visible="pull" in live)
    if "pull" not in live:
        raise name_unknown(name)
    raise RegistryError(403, "DENIED", {"name": name, "action": action})


def _record_refusal(request, principal, name: str, action: str, *, visible: bool) -> None:
    """Writes refused to a signed-in caller are on the audit trail (reads are not: a pull of a
    missing repository is not an event). Recorded against the repository's tenant, if any."""
    if action == "pull":
        return
    from tenants.models import Tenant

    tenant = None if names.is_platform(name) else Tenant.objects.filter(slug=names.namespace(name)).first()
    reason = ("the repository is visible but the caller may not change it" if visible
              else "the repository belongs to a tenant the caller cannot see, or does not exist")
    audit_record(actor=principal.actor, action="registry.push" if action == "push" else "registry.delete",
                 tenant=tenant,
                 target=("registry.repository", "", name), outcome="denied", reason=reason)


def repository_or_404(name: str) -> Repository:
    repository = Repository.objects.filter(name=name).first()
    if repository is None:
        raise name_unknown(name)
    return repository
