"""DRF authentication by API token: `Authorization: Bearer paas_<prefix>_<secret>`.

Failed attempts are counted per source address; past the limit the address is
refused with 429 for a while (guessing tokens must be slow and visible).
"""
import hmac

from django.conf import settings
from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from paas import lockout

from .models import ApiToken
from .services import token_mark_used

KEYWORDS = (b"bearer", b"token")


class ApiTokenAuthentication(BaseAuthentication):
    def authenticate_header(self, request):
        return 'Bearer realm="api"'

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        ip = request.META.get("REMOTE_ADDR", "")
        if lockout.is_locked(f"token-ip:{ip}"):
            raise exceptions.Throttled(wait=settings.LOGIN_LOCKOUT_SECONDS, detail=gettext("Too many failed token attempts from this address; try later."))
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(gettext("Malformed Authorization header."))
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(gettext("Malformed token.")) from None
        token = self._lookup(raw)
        if token is None:
            lockout.record_failure(f"token-ip:{ip}")
            raise exceptions.AuthenticationFailed(gettext("Invalid, expired or revoked API token."))
        token_mark_used(token)
        return token.user, token

    @staticmethod
    def _lookup(raw: str) -> ApiToken | None:
        mark, _, rest = raw.partition("_")
        prefix, _, secret = rest.partition("_")
        if mark != ApiToken.TOKEN_MARK or not prefix or not secret:
            return None
        token = ApiToken.objects.select_related("user", "tenant").filter(prefix=prefix).first()
        if token is None or not hmac.compare_digest(token.key_hash, ApiToken.hash_secret(secret)):
            return None
        if not token.is_usable or not token.user.is_active:
            return None
        return token
