"""DRF authentication by API token: `Authorization: Bearer paas_<prefix>_<secret>`.

A valid token is always accepted. Failed attempts are counted per client address
(paas.lockout, which also audits them, aggregated); past the limit, further
*failed* attempts from that address are answered 429 instead of 401, so guessing
is visible and slowed, while a colleague's valid token from the same address
(a NAT, a CI runner pool) keeps working.
"""
import hmac

from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from paas import lockout
from paas.context import client_ip

from .models import ApiToken
from .services import token_mark_used

KEYWORDS = (b"bearer", b"token")
UNKNOWN = ("tenants.apitoken", "", "unknown token")


class ApiTokenAuthentication(BaseAuthentication):
    def authenticate_header(self, request):
        return 'Bearer realm="api"'

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            self._fail(request, UNKNOWN, "malformed Authorization header", gettext("Malformed Authorization header."))
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            self._fail(request, UNKNOWN, "malformed token", gettext("Malformed token."))
        token, target, reason = self._lookup(raw)
        if token is None:
            self._fail(request, target, reason, gettext("Invalid, expired or revoked API token."))
        token_mark_used(token)
        return token.user, token

    @staticmethod
    def _fail(request, target, reason: str, message: str):
        verdict = lockout.token_failed(address=client_ip(request.META), target=target, reason=reason)
        if verdict.locked:
            raise exceptions.Throttled(
                wait=verdict.retry_after, detail=gettext("Too many failed token attempts from this address; try later."))
        raise exceptions.AuthenticationFailed(message)

    @staticmethod
    def _lookup(raw: str) -> tuple[ApiToken | None, tuple, str]:
        """(the usable token or None, audit target, reason it failed). The target
        names a stored token only: the prefix in the header is the caller's word."""
        mark, _, rest = raw.partition("_")
        prefix, _, secret = rest.partition("_")
        if mark != ApiToken.TOKEN_MARK or not prefix or not secret:
            return None, UNKNOWN, "malformed token"
        token = ApiToken.objects.select_related("user", "tenant").filter(prefix=prefix).first()
        if token is None:
            return None, UNKNOWN, "unknown token"
        target = ("tenants.apitoken", token.pk, f"token {token.prefix} of {token.user.get_username()}")
        if not hmac.compare_digest(token.key_hash, ApiToken.hash_secret(secret)):
            return None, target, "wrong secret"
        if not token.is_usable or not token.user.is_active:
            return None, target, "revoked or expired token, or inactive user"
        return token, target, ""
