"""Request bodies from daphne to Django a chunk at a time, not all at once.

Daphne (4.x, django/daphne#483) receives a request body into a temporary file (Twisted
spools bodies over 100 kB to disk), then, in one loop that never yields, reads the whole
file and puts every 8 KiB chunk on the application's unbounded input queue before the
application runs: a 500 MiB artifact upload or registry blob push briefly held 500 MiB in
the web process. Django's ASGI handler then copies the body to its own spooled temporary
file, so the memory was never needed.

`install()` (called by paas.asgi, i.e. only in processes serving the project through
daphne) wraps daphne's Server.create_application: for HTTP requests the application's
queue is a `BodyQueue`, which lets daphne's loop hand over the first chunk only, moves
daphne's read position to the end of the spooled file so that the loop stops there, and
then serves the rest of the body from that file on demand, one chunk per `receive()`.
Peak memory stays at a chunk or two whatever the body size. WebSocket connections and
every other message go through unchanged. PAAS_DAPHNE_CHUNKED_BODIES=0 leaves daphne as it is
(the upload benchmark uses it to show the difference).
"""
import asyncio
import logging
import os

logger = logging.getLogger(__name__)

CHUNK = 256 * 1024
_installed = False


class BodyQueue(asyncio.Queue):
    """The application's input queue for one HTTP request (see the module docstring)."""

    def __init__(self, request):
        super().__init__()
        self._request = request
        self._file = None       # daphne's spooled body, once we serve from it
        self._offset = 0
        self._end = 0

    def put_nowait(self, message):
        if message.get("type") == "http.request":
            if self._file is not None:
                return  # daphne's loop ending after we moved its position: we send the real end
            content = getattr(self._request, "content", None)
            if message.get("more_body") and content is not None and hasattr(content, "seek"):
                try:
                    self._offset = content.tell()
                    self._end = content.seek(0, os.SEEK_END)  # daphne's next read is empty: its loop ends
                except (OSError, ValueError):
                    return super().put_nowait(message)
                self._file = content
        return super().put_nowait(message)

    async def get(self):
        if self._file is not None and self.empty():
            return self._next_chunk()
        message = await super().get()
        return message

    def _next_chunk(self) -> dict:
        try:
            self._file.seek(self._offset)
            chunk = self._file.read(min(CHUNK, self._end - self._offset))
        except (OSError, ValueError):  # the connection went away and Twisted closed the file
            self._file = None
            return {"type": "http.disconnect"}
        self._offset += len(chunk)
        more = bool(chunk) and self._offset < self._end
        if not more:
            self._file = None
        return {"type": "http.request", "body": chunk, "more_body": more}


def install() -> bool:
    """Patch daphne's Server once; returns whether daphne is there to patch."""
    global _installed
    if _installed:
        return True
    if os.environ.get("PAAS_DAPHNE_CHUNKED_BODIES", "1") == "0":
        return False
    try:
        from daphne import server
    except ImportError:
        return False
    original = server.Server.create_application

    def create_application(self, protocol, scope):
        if scope.get("type") != "http":
            return original(self, protocol, scope)
        queue = BodyQueue(protocol)
        assert "application_instance" not in self.connections[protocol]
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(scope=scope, receive=queue.get,
                                                send=_reply(self, protocol))
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(
            application_instance, loop=asyncio.get_event_loop())
        return queue

    server.Server.create_application = create_application
    _installed = True
    return True


def _reply(server, protocol):
    from functools import partial

    return partial(server.handle_reply, protocol)
