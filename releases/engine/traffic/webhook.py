"""A signed HTTP webhook for real systems (a gateway, a mesh, an in-house registry).

POST <url> with {"action": "take_out"|"put_back", "cluster", "namespace", "pod", "ip",
"application", "component"}; headers
  X-Paas-Timestamp: <unix seconds>
  X-Paas-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>
The receiver recomputes the HMAC over the raw body and refuses a timestamp older than a few
minutes (a captured request cannot be replayed later). Any 2xx is success.
"""
import hashlib
import hmac
import json
import time

import requests

from . import PodRef, ProviderError

TIMEOUT = (2.0, 10.0)
SIGNATURE_HEADER, TIMESTAMP_HEADER = "X-Paas-Signature", "X-Paas-Timestamp"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, *, max_age: float = 300) -> bool:
    """What a receiver does (and the tests): signature matches and the timestamp is fresh."""
    try:
        fresh = abs(time.time() - float(timestamp)) <= max_age
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def secret_of(row) -> bytes:
    from releases.services import provider_secret

    return provider_secret(row).encode()


class WebhookProvider:
    def __init__(self, row):
        self.name, self.url, self.secret = row.name, row.url, secret_of(row)

    def _post(self, action: str, pod: PodRef) -> None:
        body = json.dumps({"action": action, "cluster": pod.cluster, "namespace": pod.namespace, "pod": pod.name,
                           "ip": pod.ip, "application": pod.application, "component": pod.component},
                          sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: sign(self.secret, timestamp, body)}
        try:
            response = requests.post(self.url, data=body, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise ProviderError(f"webhook {self.name} did not answer ({exc.__class__.__name__})") from None
        if not 200 <= response.status_code < 300:
            raise ProviderError(f"webhook {self.name} answered {response.status_code}")

    def take_out(self, pod: PodRef) -> None:
        self._post("take_out", pod)

    def put_back(self, pod: PodRef) -> None:
        self._post("put_back", pod)
