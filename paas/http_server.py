"""Three adjustments to daphne (the web process's HTTP server), installed by paas/asgi.py.

1. Request bodies reach the application a chunk at a time. daphne (4.x) writes a request's body
   to a temporary file (twisted does, above 100 kB) and then, before the application has read
   anything, pushes *all* of it as `http.request` messages into the application's unbounded
   asyncio queue: a 500 MiB image layer or build artifact sat in the web process's memory. Here
   the application's queue reads the body from twisted's file when the application asks for it
   (1 MiB per message), so memory stays flat whatever the size; Django then spools it to disk.

2. A TLS handshake on the plain-HTTP port is refused at once. Registry clients (skopeo, podman,
   containerd) try HTTPS first even with --tls-verify=false and fall back to HTTP only when that
   fails; twisted took the ClientHello for the start of an HTTP line and waited, so each command
   waited out the client's 10 s TLS handshake timeout. No HTTP request starts with byte 0x16 (a
   TLS handshake record), so such a connection is closed as soon as it sends it. Behind a
   TLS-terminating proxy this never triggers.

3. Response bodies wait for the client. daphne hands each chunk of a streamed response to twisted,
   which buffers whatever the socket cannot take yet, without limit: a client pulling a 500 MiB
   layer slowly had all of it in the server's memory. After each chunk, the sender now waits until
   twisted's write buffer is under DRAIN_BELOW (for at most DRAIN_WAIT_SECONDS).

All three wrap daphne's internals (Server.create_application, HTTPFactory.buildProtocol) as of daphne
4.2; tests/registry/test_http_server.py checks them against the real server.
"""
import asyncio
import io
import weakref
from functools import partial

BODY_CHUNK = 1024 * 1024
DRAIN_BELOW = 4 * 1024 * 1024
DRAIN_WAIT_SECONDS = 300
_installed = False


def install() -> None:
    """Idempotent; a no-op where daphne is not importable."""
    global _installed
    if _installed:
        return
    try:
        from daphne.http_protocol import HTTPFactory
        from daphne.server import Server
    except ImportError:  # pragma: no cover - daphne is a dependency
        return
    Server.create_application = _create_application
    original_reply = Server.handle_reply

    async def handle_reply(self, protocol, message):
        await original_reply(self, protocol, message)
        if message.get("type") == "http.response.body" and message.get("more_body"):
            await _drained(protocol)

    Server.handle_reply = handle_reply
    original_build = HTTPFactory.buildProtocol

    def build_protocol(self, addr):
        protocol = original_build(self, addr)
        if protocol is not None:
            _refuse_tls(protocol)
        return protocol

    HTTPFactory.buildProtocol = build_protocol
    _installed = True


# --- 1. streaming request bodies ------------------------------------------------------------

class BodyStreamingQueue(asyncio.Queue):
    """The application's receive queue, reading the request body from `body` (a file) on demand.

    daphne still puts its own body message(s); create_application left it an empty content
    file, so that is one empty `http.request`, which is dropped here. Other messages (a client
    disconnect) go through the queue as before and take precedence over the rest of the body."""

    def __init__(self, body):
        super().__init__()
        self._body = body
        self._placeholder_dropped = False
        weakref.finalize(self, body.close)

    def put_nowait(self, item):
        if self._body is not None and not self._placeholder_dropped and item.get("type") == "http.request":
            self._placeholder_dropped = True
            return
        super().put_nowait(item)

    async def get(self):
        if self._body is None or not self.empty():
            self._finish()
            return await super().get()
        chunk = await asyncio.to_thread(self._body.read, BODY_CHUNK)
        more = len(chunk) == BODY_CHUNK
        if not more:
            self._finish()
        return {"type": "http.request", "body": chunk, "more_body": more}

    def _finish(self):
        if self._body is not None:
            self._body.close()
            self._body = None


def _spooled_body(protocol, scope):
    """twisted's file of the request body, when it is a real file (bodies over 100 kB)."""
    if scope.get("type") != "http":
        return None
    content = getattr(protocol, "content", None)
    if content is None or isinstance(content, io.BytesIO):
        return None
    try:
        content.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    return content


def _create_application(self, protocol, scope):
    """daphne.server.Server.create_application, with the streaming queue for large bodies."""
    assert "application_instance" not in self.connections[protocol]  # noqa: S101 (daphne's own check)
    body = _spooled_body(protocol, scope)
    if body is not None:
        protocol.content = io.BytesIO()  # what daphne itself sends now: one empty message
        input_queue = BodyStreamingQueue(body)
    else:
        input_queue = asyncio.Queue()
    scope.setdefault("asgi", {"version": "3.0"})
    application_instance = self.application(scope=scope, receive=input_queue.get,
                                            send=partial(self.handle_reply, protocol))
    if protocol not in self.connections:
        return None
    self.connections[protocol]["application_instance"] = asyncio.ensure_future(
        application_instance, loop=asyncio.get_event_loop())
    return input_queue


# --- 3. waiting for slow readers ----------------------------------------------------------------

def _buffered(protocol) -> int | None:
    """Bytes twisted holds for the client, or None when it cannot be told (e.g. a TLS transport)."""
    transport = getattr(protocol, "transport", None)
    data = getattr(transport, "dataBuffer", None)
    if data is None:
        return None
    return len(data) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)


async def _drained(protocol) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_WAIT_SECONDS
    while loop.time() < deadline:
        if getattr(protocol, "finished", True) or getattr(protocol, "channel", None) is None:
            return  # the client is gone: nothing to wait for
        pending = _buffered(protocol)
        if pending is None or pending < DRAIN_BELOW:
            return
        await asyncio.sleep(0.005)


# --- 2. TLS probes on the plain-HTTP port ---------------------------------------------------

def _refuse_tls(protocol) -> None:
    received = protocol.dataReceived
    first = [True]

    def data_received(data: bytes):
        if first[0] and data:
            first[0] = False
            if data[:1] == b"\x16":
                protocol.transport.abortConnection()
                return None
        return received(data)

    protocol.dataReceived = data_received
