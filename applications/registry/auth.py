"""Who may do what in the built-in registry, and the Bearer tokens that carry it.

Clients follow Docker's token flow: a /v2/ request without a token gets a 401 with
``WWW-Authenticate: Bearer realm=".../v2/token",service="<REGISTRY_HOST>",scope="repository:acme/x:pull"``;
they ask /v2/token with HTTP Basic (username + an API token ``paas_...``) for those scopes and get
a short-lived token listing the actions granted, which /v2/ checks on every request.

Grants (`allowed_actions`, the one rule, also behind `issue_token`):
- ``<tenant>/*``: only principals bound to that tenant (an API token's tenant); pull needs
  ``view_tenant``, push and delete need ``manage_applications`` (so read-only tokens pull only);
- ``platform/*``: pull for every authenticated principal; push/delete for platform operators
  (``registry.push_platform_image`` via `can_platform`; tenant-bound API tokens never have it).

Member clusters pull with `pull_credentials(tenant)`: a username and secret that only pull the
tenant's and the platform's images (for imagePullSecrets), derived from SECRET_KEY, not stored.

Tokens are signed with an HMAC key derived from SECRET_KEY (their own salt) and expire after
`ttl` seconds. At each request the principal behind the token is read again, so a revoked API
token or a deactivated user stops working at once, not when the token expires.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing

from paas.actors import Actor
from paas.permissions import can, can_platform
from tenants.models import ApiToken, Tenant

from . import names

DEFAULT_TTL = 300
MAX_TTL = 3600
PLATFORM_PUSH_PERMISSION = "registry.push_platform_image"
ACTIONS = ("pull", "push", "delete")
MAX_SCOPES = 16
_SALT = "paas.registry.token"


def _key() -> str:
    # Not SECRET_KEY itself: a key only for registry tokens, so nothing else Django signs
    # (sessions, password resets) can ever be replayed as one.
    return hmac.new(settings.SECRET_KEY.encode(), b"paas-registry-token-v1", hashlib.sha256).hexdigest()


@dataclass
class Principal:
    """Whoever a token or Basic credentials stand for."""

    user: object = None
    token: ApiToken | None = None
    tenant: Tenant | None = None  # the only tenant whose repositories it may touch
    system: str = ""
    read_only: bool = False  # pull credentials of clusters (pull_credentials): pull, never push
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def anonymous(self) -> bool:
        return self.user is None and not self.system

    @property
    def actor(self) -> Actor:
        if self.system:
            return Actor.for_system(self.system)
        if self.token is not None:
            return Actor.for_token(self.token)
        return Actor(user=self.user)

    @property
    def username(self) -> str:
        if self.system:
            return f"system:{self.system}"
        return self.user.get_username() if self.user is not None else ""

    def actions(self, name: str) -> set[str]:
        if self.anonymous:  # nothing, and nothing cached on the shared ANONYMOUS principal
            return set()
        if name not in self._cache:
            self._cache[name] = allowed_actions(self, name)
        return self._cache[name]


ANONYMOUS = Principal()


def allowed_actions(principal: Principal, name: str) -> set[str]:
    """The actions of ACTIONS `principal` may take on repository `name` (existing or not)."""
    if principal.anonymous or not names.valid_name(name):
        return set()
    if principal.read_only:
        return _allowed(principal, name) & {"pull"}
    return _allowed(principal, name)


def _allowed(principal: Principal, name: str) -> set[str]:
    actor = principal.actor
    if names.is_platform(name):
        granted = {"pull"}
        if can_platform(actor, PLATFORM_PUSH_PERMISSION):
            granted |= {"push", "delete"}
        return granted
    tenant = principal.tenant
    if tenant is None or tenant.slug != names.namespace(name):
        return set()
    granted = set()
    if can(actor, "view_tenant", tenant):
        granted.add("pull")
        if can(actor, "manage_applications", tenant):
            granted |= {"push", "delete"}
    return granted


# --- scopes ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    type: str  # "repository" or "registry"
    name: str  # a repository name, or "catalog"
    actions: tuple[str, ...]

    def __str__(self):
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scope(text: str) -> Scope | None:
    """``repository:acme/x:pull,push`` -> Scope; None when malformed."""
    kind, _, rest = text.partition(":")
    name, _, actions = rest.rpartition(":")
    kind = kind.split("(", 1)[0]  # "repository(plugin)" is Docker's resource class
    wanted = tuple(a for a in actions.split(",") if a)
    if kind == "repository" and names.valid_name(name) and wanted:
        return Scope(kind, name, wanted)
    if kind == "registry" and name == "catalog" and wanted:
        return Scope(kind, name, wanted)
    return None


def parse_scopes(values: list[str]) -> list[Scope]:
    scopes = []
    for value in values:
        for text in value.split():
            scope = parse_scope(text)
            if scope is not None and len(scopes) < MAX_SCOPES:
                scopes.append(scope)
    return scopes


def grant(principal: Principal, scope: Scope) -> list[str]:
    """The actions of `scope` the principal gets; "*" asks for everything it may do (and is
    granted as such only when that is pull, push and delete)."""
    if scope.type == "registry":
        # The catalog lists only what the caller may see (selectors), so any signed-in caller may ask.
        return ["*"] if not principal.anonymous and "*" in scope.actions else []
    allowed = principal.actions(scope.name)
    wanted = ACTIONS if "*" in scope.actions else scope.actions
    granted = [a for a in ACTIONS if a in wanted and a in allowed]
    if "*" in scope.actions and allowed == set(ACTIONS):
        granted.append("*")
    return granted


# --- tokens ---------------------------------------------------------------------------------

def _sign(principal: Principal, access: list[dict], ttl: int) -> str:
    now = int(time.time())
    payload = {
        "sub": principal.user.pk if principal.user is not None else None,
        "tok": principal.token.pk if principal.token is not None else None,
        "ten": principal.tenant.pk if principal.tenant is not None else None,
        "sys": principal.system or None,
        "ro": principal.read_only or None,
        "acc": access,
        "iat": now,
        "exp": now + ttl,
    }
    return signing.dumps(payload, key=_key(), salt=_SALT)


def token_for(principal: Principal, scopes: list[Scope], ttl: int = DEFAULT_TTL) -> str:
    ttl = max(1, min(int(ttl), MAX_TTL))
    access = []
    for scope in scopes:
        actions = grant(principal, scope)
        if actions:
            access.append({"type": scope.type, "name": scope.name, "actions": actions})
    return _sign(principal, access, ttl)


def issue_token(*, user, tenant, scopes: list[str], ttl: int = DEFAULT_TTL) -> str:
    """A registry token for the platform's own processes (builder, kubelet pull secrets), e.g.
    ``issue_token(user=build.created_by, tenant=build.tenant, scopes=["repository:acme/api:pull,push"])``.

    Grants exactly what `allowed_actions` gives `user` in `tenant` (user None: a system process,
    allowed everything in `tenant`'s repositories and the platform/ namespace)."""
    if user is None:
        principal = Principal(system="registry", tenant=tenant)
    else:
        principal = Principal(user=user, tenant=tenant)
    return token_for(principal, parse_scopes(scopes), ttl)


@dataclass(frozen=True)
class Verified:
    principal: Principal
    access: tuple  # ({"type", "name", "actions"}, ...)

    def allows(self, kind: str, name: str, action: str) -> bool:
        for entry in self.access:
            if entry.get("type") == kind and entry.get("name") == name:
                actions = entry.get("actions") or []
                if action in actions or "*" in actions:
                    return True
        return False


def verify(raw: str) -> Verified | None:
    """The token's principal (read again from the database) and grants; None when the token is
    forged, expired, or its user/API token is no longer usable."""
    try:
        payload = signing.loads(raw, key=_key(), salt=_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int) or payload["exp"] < time.time():
        return None
    principal = _principal_from(payload)
    if principal is None:
        return None
    access = payload.get("acc")
    return Verified(principal, tuple(a for a in access if isinstance(a, dict)) if isinstance(access, list) else ())


def _principal_from(payload: dict) -> Principal | None:
    tenant = None
    if payload.get("ten") is not None:
        tenant = Tenant.objects.filter(pk=payload["ten"]).first()
        if tenant is None:
            return None
    if payload.get("sys"):
        return Principal(system=str(payload["sys"]), tenant=tenant, read_only=bool(payload.get("ro")))
    if payload.get("tok") is not None:
        token = ApiToken.objects.select_related("user", "tenant").filter(pk=payload["tok"]).first()
        if token is None or not token.is_usable or not token.user.is_active:
            return None
        return Principal(user=token.user, token=token, tenant=token.tenant)
    if payload.get("sub") is not None:
        user = get_user_model().objects.filter(pk=payload["sub"], is_active=True).first()
        return Principal(user=user, tenant=tenant) if user is not None else None
    return ANONYMOUS


# --- Basic credentials (username + API token) ----------------------------------------------

class BadCredentials(Exception):
    def __init__(self, target, reason: str):
        super().__init__(reason)
        self.target = target
        self.reason = reason


def parse_basic(header: str) -> tuple[str, str] | None:
    kind, _, value = header.partition(" ")
    if kind.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ("", "")
    username, _, password = decoded.partition(":")
    return username, password


# --- pull credentials for member clusters --------------------------------------------------------

PULL_MARK = "paaspull_"
PULL_USER = "pull.{slug}"


def _pull_secret(tenant) -> str:
    digest = hmac.new(_key().encode(), f"pull:{tenant.pk}:{tenant.slug}".encode(), hashlib.sha256).hexdigest()
    return f"{PULL_MARK}{digest}"


def pull_credentials(tenant) -> tuple[str, str]:
    """(username, password) that pull — and only pull — the tenant's images and the platform's base
    images, for the imagePullSecrets of its workloads (kubelets use them with the same token flow).
    Stable (derived from SECRET_KEY and the tenant, nothing stored), so pull secrets do not churn;
    changing SECRET_KEY revokes them all."""
    return PULL_USER.format(slug=tenant.slug), _pull_secret(tenant)


def _pull_principal(username: str, password: str) -> Principal | None:
    if not username.startswith("pull."):
        return None
    tenant = Tenant.objects.filter(slug=username.removeprefix("pull."), is_active=True).first()
    if tenant is None or not hmac.compare_digest(password, _pull_secret(tenant)):
        return None
    return Principal(system="registry-pull", tenant=tenant, read_only=True)


def principal_for_credentials(username: str, password: str) -> Principal:
    """Username + API token -> Principal, or BadCredentials (counted by the caller as a failed
    token attempt). The username must be the token owner's (case-insensitive): a login that names
    someone else is refused rather than silently acting as the token's owner."""
    from tenants.authentication import ApiTokenAuthentication
    from tenants.services import token_mark_used

    if password.startswith(PULL_MARK):
        principal = _pull_principal(username.strip(), password)
        if principal is None:
            raise BadCredentials(("registry.pull", "", username[:100]), "wrong pull credentials")
        return principal

    token, target, reason = ApiTokenAuthentication._lookup(password)
    if token is None:
        raise BadCredentials(target, reason)
    if username.strip().lower() != token.user.get_username().lower():
        raise BadCredentials(target, "username is not the token's owner")
    token_mark_used(token)
    return Principal(user=token.user, token=token, tenant=token.tenant)
