"""A bare ASGI app for tests/builds/test_daphne_body.py, served by a real daphne: it answers
the SHA-256, size and number of chunks of the request body it received, with paas.daphne_body installed as paas.asgi installs it (unless the environment says not)."""
import hashlib
import json

from paas import daphne_body

daphne_body.install()


async def application(scope, receive, send):
    if scope["type"] != "http":
        return
    sha, size, chunks = hashlib.sha256(), 0, 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body = message.get("body", b"")
        sha.update(body)
        size += len(body)
        chunks += 1
        if not message.get("more_body"):
            break
    answer = json.dumps({"sha256": sha.hexdigest(), "size": size, "chunks": chunks}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})
