"""API rate limits that fail open when the shared cache (Redis) is unreachable.

DRF keeps each client's request history in the cache; with Redis down every
throttled request raised, so every API call, reads included, answered 500.
Failing open (the request is served, unthrottled, and a warning logged) is the
choice here because these limits guard capacity, not secrets: guessing tokens or
passwords is stopped by the lockout (paas.lockout), which has its own fallback.
Counting in the database instead would add a write to every API call exactly
while the platform is degraded; refusing every call would turn a Redis outage
into an API outage.
"""
import logging
import time

from rest_framework import throttling

logger = logging.getLogger(__name__)
WARN_EVERY_SECONDS = 60
_last_warning = [0.0]


def _warn(exc: Exception) -> None:
    now = time.monotonic()
    if now - _last_warning[0] >= WARN_EVERY_SECONDS:  # one line a minute, not one per request
        _last_warning[0] = now
        logger.warning("cache unavailable (%s): API rate limits are not enforced until it is back",
                       exc.__class__.__name__)


class FailOpenMixin:
    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # redis-py ConnectionError/TimeoutError, or any backend failure
            _warn(exc)
            return True


class AnonRateThrottle(FailOpenMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FailOpenMixin, throttling.UserRateThrottle):
    pass
