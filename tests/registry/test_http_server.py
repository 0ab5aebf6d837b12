"""paas/http_server.py against the real daphne: big bodies in and out keep the web process's
memory flat, and a TLS probe on the plain-HTTP port is turned away at once."""
import base64
import hashlib
import os
import socket
import time

import pytest
import requests

pytestmark = [pytest.mark.registry_server, pytest.mark.django_db(transaction=True)]

SIZE_MIB = 160
# Without paas/http_server.py, daphne held each whole body (and twisted each whole response).
ALLOWED_GROWTH_MIB = 60


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_big_uploads_and_downloads_keep_memory_flat(builtin_server, acme):
    base, _storage, _log, pid = builtin_server
    auth = {"Authorization": "Basic " + base64.b64encode(f"dev:{acme['write']}".encode()).decode()}
    requests.get(f"{base}/v2/", headers=auth, timeout=30)
    before = peak_rss_mib(pid)
    block = os.urandom(1024 * 1024)
    digest = "sha256:" + hashlib.sha256(block * SIZE_MIB).hexdigest()

    started = time.monotonic()
    location = requests.post(f"{base}/v2/acme/big/blobs/uploads/", headers=auth, timeout=30).headers["Location"]
    chunked = requests.patch(base + location, data=(block for _ in range(SIZE_MIB)), timeout=300,
                             headers={**auth, "Content-Type": "application/octet-stream"})  # Transfer-Encoding: chunked
    assert chunked.status_code == 202 and chunked.headers["Range"] == f"0-{SIZE_MIB * 1024 * 1024 - 1}"
    done = requests.put(f"{base}{chunked.headers['Location']}?digest={digest}", headers=auth, timeout=300)
    assert done.status_code == 201, done.text
    other = block[::-1] * SIZE_MIB
    monolithic = requests.post(f"{base}/v2/acme/big/blobs/uploads/?digest=sha256:{hashlib.sha256(other).hexdigest()}",
                               data=other, headers=auth, timeout=300)
    assert monolithic.status_code == 201
    del other

    pulled = hashlib.sha256()
    with requests.get(f"{base}/v2/acme/big/blobs/{digest}", headers=auth, stream=True, timeout=300) as response:
        for chunk in response.iter_content(256 * 1024):
            pulled.update(chunk)
            time.sleep(0.0005)  # a reader slower than the disk
    assert "sha256:" + pulled.hexdigest() == digest
    elapsed = time.monotonic() - started
    growth = peak_rss_mib(pid) - before
    print(f"{3 * SIZE_MIB} MiB through daphne in {elapsed:.1f} s; peak memory +{growth:.0f} MiB")
    assert growth < ALLOWED_GROWTH_MIB


def test_a_tls_probe_is_closed_at_once(builtin_server):
    base = builtin_server[0]
    host, port = base.split("://", 1)[1].split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(bytes.fromhex("16030100a5010000a10303") + os.urandom(32))  # the start of a ClientHello
        try:
            assert sock.recv(100) == b""
        except ConnectionResetError:
            pass
    assert time.monotonic() - started < 2
    assert requests.get(f"{base}/healthz", timeout=5).status_code == 200  # plain HTTP still served
