"""Registry clients try HTTPS first, even with --tls-verify=false, and fall back to plain HTTP
only when that fails. On a plain-HTTP daphne port (development, `make run`, the tests) the TLS
ClientHello is not an HTTP line, so twisted waits for more and the client gives up only after its
TLS handshake timeout: skopeo spent 10 s per registry on every command. A connection whose first
byte opens a TLS handshake record (0x16; no HTTP request starts with it) is closed at once instead,
and the client moves on to HTTP straight away. Behind a TLS-terminating proxy it never triggers.
"""
_installed = False


def install() -> None:
    """Wrap daphne's protocol factory (idempotent; a no-op without daphne)."""
    global _installed
    if _installed:
        return
    try:
        from daphne.http_protocol import HTTPFactory
    except ImportError:  # pragma: no cover - daphne is a dependency
        return
    original = HTTPFactory.buildProtocol

    def build_protocol(self, addr):
        protocol = original(self, addr)
        if protocol is not None:
            _refuse_tls(protocol)
        return protocol

    HTTPFactory.buildProtocol = build_protocol
    _installed = True


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
