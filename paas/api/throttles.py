"""REST API rate limits: keyed on the real client address, failing open without Redis.

Client address: DRF's own classes key anonymous clients on X-Forwarded-For as the
client sent it (unless NUM_PROXIES is set), so anyone could pick a fresh key per
request. These use paas.context.client_ip, which believes X-Forwarded-For only
from TRUSTED_PROXIES.

Failing open: DRF keeps each client's request history in the cache; with Redis
down every throttled request raised, so every API call, reads included, answered
500. Failing open (the request is served, unthrottled, and a warning logged) is
the choice here because these limits guard capacity, not secrets: guessing tokens
or passwords is stopped by the lockout (paas.lockout), which keeps its counters in
the database. Counting in the database instead would add a write to every API call
exactly while the platform is degraded; refusing every call would turn a Redis
outage into an API outage.
"""
import logging
import time

from rest_framework import throttling

from paas.context import client_ip

logger = logging.getLogger(__name__)
WARN_EVERY_SECONDS = 60
_last_warning = [0.0]


def _warn(exc: Exception) -> None:
    now = time.monotonic()
    if now - _last_warning[0] >= WARN_EVERY_SECONDS:  # one line a minute, not one per request
        _last_warning[0] = now
        logger.warning("cache unavailable (%s): API rate limits are not enforced until it is back",
                       exc.__class__.__name__)


class _ClientAddressMixin:
    def get_ident(self, request):
        return client_ip(request.META) or ""


class _FailOpenMixin:
    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # redis-py ConnectionError/TimeoutError, or any backend failure
            _warn(exc)
            return True


class AnonRateThrottle(_FailOpenMixin, _ClientAddressMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_FailOpenMixin, _ClientAddressMixin, throttling.UserRateThrottle):
    pass
