"""ASGI entry point: HTTP goes to Django, WebSocket to Channels consumers with
session authentication and an Origin check (scheme, host and port: paas.realtime.origin)."""
import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paas.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from applications.registry import plain_http  # noqa: E402
from paas import daphne_body  # noqa: E402
from paas.realtime.auth import LiveAuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from paas.realtime.origin import SameOriginValidator  # noqa: E402
from paas.realtime.routing import websocket_urlpatterns  # noqa: E402

# Registry clients probing HTTPS on this plain-HTTP port get a closed connection at once, not a
# 10 s TLS handshake timeout (applications/registry/plain_http.py).
plain_http.install()
# Under daphne, request bodies reach Django a chunk at a time (a 500 MiB upload used to sit in memory).
daphne_body.install()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(LiveAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# Everything loaded so far lives as long as the process: keep it out of the cyclic
# garbage collector's full passes, which otherwise walk ~150,000 objects (Django,
# DRF, ...) and pause live fan-out to a thousand sockets for tens of milliseconds.
gc.freeze()
