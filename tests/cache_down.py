"""A cache pointing at a Redis that is not there, for "Redis is down" tests."""
import socket
from contextlib import contextmanager

from django.test import override_settings


def closed_port() -> int:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def unreachable_cache():
    port = closed_port()
    down = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                        "LOCATION": f"redis://127.0.0.1:{port}/2"}}
    # override_settings, not the `settings` fixture: the cache must work again before
    # other fixtures' teardown clears it.
    with override_settings(CACHES=down):
        from django.core.cache import cache

        try:
            cache.get("probe")
        except Exception:  # noqa: BLE001 (any failure will do: the point is that it fails)
            pass
        else:
            raise AssertionError("the cache was supposed to be unreachable")
        yield
