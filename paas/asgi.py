"""ASGI entry point: HTTP goes to Django, WebSocket to Channels consumers with
session authentication and an Origin check (scheme, host and port: paas.realtime.origin)."""
import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paas.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from paas import http_server  # noqa: E402
from paas.realtime.auth import LiveAuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from paas.realtime.origin import SameOriginValidator  # noqa: E402
from paas.realtime.routing import websocket_urlpatterns  # noqa: E402

# Large request bodies reach Django a chunk at a time (daphne queued them whole in memory), and
# registry clients probing HTTPS on a plain-HTTP port are refused at once (paas/http_server.py).
http_server.install()

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
