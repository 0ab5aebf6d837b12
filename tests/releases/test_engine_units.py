"""Pieces of the executor without a cluster: the signed webhook (HMAC-SHA256 over timestamp and
body, replay refused by the timestamp), gate evaluation, release overrides recognised."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest

from applications import secrets
from releases.engine import gates
from releases.engine.traffic import PodRef, ProviderError
from releases.engine.traffic.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookProvider, sign, verify
from releases.engine.workload import is_release_override

PORT = 22610  # this helper's range
SECRET = "a-signing-secret-of-some-length"
POD = PodRef(cluster="fed-a1", namespace="acme-prod", name="api-x1", ip="10.0.0.7", application="payments-api",
             component="api", service="payments-api-api")


class Receiver(BaseHTTPRequestHandler):
    received: list = []
    answer = 204

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = verify(SECRET.encode(), self.headers[TIMESTAMP_HEADER], body, self.headers[SIGNATURE_HEADER])
        Receiver.received.append((ok, json.loads(body)))
        self.send_response(Receiver.answer if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = HTTPServer(("127.0.0.1", PORT), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.received, Receiver.answer = [], 204
    yield f"http://127.0.0.1:{PORT}/hook"
    server.shutdown()
    server.server_close()


def provider(url: str, secret: str = SECRET) -> WebhookProvider:
    return WebhookProvider(SimpleNamespace(name="gw", url=url, secret=secrets.seal({"secret": secret})))


def test_webhook_is_signed_and_the_receiver_can_check_it(receiver):
    hook = provider(receiver)
    hook.take_out(POD)
    hook.put_back(POD)
    assert [(ok, body["action"], body["pod"], body["cluster"]) for ok, body in Receiver.received] == [
        (True, "take_out", "api-x1", "fed-a1"), (True, "put_back", "api-x1", "fed-a1")]
    # The wrong secret is refused by the receiver, and the provider says so.
    with pytest.raises(ProviderError, match="answered 401"):
        provider(receiver, secret="another-secret-of-length").take_out(POD)


def test_webhook_signature_covers_the_body_and_a_fresh_timestamp():
    body, now = b'{"action":"take_out"}', str(int(time.time()))
    signature = sign(SECRET.encode(), now, body)
    assert signature.startswith("sha256=") and verify(SECRET.encode(), now, body, signature)
    assert not verify(SECRET.encode(), now, body + b" ", signature)  # tampered body
    old = str(int(time.time()) - 3600)
    assert not verify(SECRET.encode(), old, body, sign(SECRET.encode(), old, body))  # replayed later
    assert not verify(SECRET.encode(), "not-a-time", body, signature)


def test_webhook_that_does_not_answer_is_a_provider_error():
    with pytest.raises(ProviderError, match="did not answer"):
        provider(f"http://127.0.0.1:{PORT + 1}/nothing").take_out(POD)


def test_gates_compare_values_and_say_why():
    assert gates.ready_ratio({"min_ready_ratio": 0.9}, ready=9, total=10)["ok"] is True
    failed = gates.ready_ratio({"min_ready_ratio": 1.0}, ready=3, total=4)
    assert failed["ok"] is False and failed["value"] == 0.75 and failed["detail"] == "3 of 4 pods ready"
    restarted = gates.restarts([("fed-a1", "api-1", 1, 3)])
    assert restarted["ok"] is False and "api-1 in fed-a1 restarted (1 → 3)" in restarted["detail"]
    assert gates.restarts([])["ok"] is True
    vector = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"pod": "a"}, "value": [0, "0.01"]}, {"metric": {"pod": "b"}, "value": [0, "0.2"]}]}}
    assert gates._vector_value(vector) == 0.2
    assert gates._vector_value({"status": "success", "data": {"resultType": "vector", "result": []}}) is None
    unreachable = gates.metric({"prometheus_url": f"http://127.0.0.1:{PORT + 2}"},
                               {"name": "errors", "query": "up", "op": "<", "threshold": 1}, namespace="n", pods=["a"])
    assert unreachable["ok"] is False and "did not answer" in unreachable["detail"]


def test_release_overrides_are_told_apart_from_an_operators():
    mine = {"clusters": ["fed-a1"], "operations": [{"op": "add", "path": "/spec/updateStrategy/partition", "value": 1}]}
    theirs = {"clusters": ["fed-a1"], "operations": [{"op": "replace", "path": "/spec/replicas", "value": 3}]}
    selector = {"clusterSelector": {"matchLabels": {"gpu": "yes"}},
                "operations": [{"op": "add", "path": "/spec/updateStrategy/partition", "value": 1}]}
    assert is_release_override(mine) and not is_release_override(theirs) and not is_release_override(selector)
