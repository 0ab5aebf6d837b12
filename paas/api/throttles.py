"""REST API rate limits keyed on the real client address.

DRF's own classes key anonymous clients on X-Forwarded-For as the client sent it
(unless NUM_PROXIES is set), so anyone could pick a fresh key per request. These
use paas.context.client_ip, which believes X-Forwarded-For only from TRUSTED_PROXIES.
"""
from rest_framework import throttling

from paas.context import client_ip


class _ClientAddressMixin:
    def get_ident(self, request):
        return client_ip(request.META) or ""


class AnonRateThrottle(_ClientAddressMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_ClientAddressMixin, throttling.UserRateThrottle):
    pass
