"""paas.daphne_body: a real daphne hands a large request body to the application a chunk at a
time, so the web process's memory does not grow with the body (as shipped, daphne queued the
whole body in memory first: django/daphne#483). A bare ASGI app reports what it received;
the server's RSS is sampled from /proc while the body is sent."""
import hashlib
import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paas.supervisor import free_tcp_port

ROOT = Path(__file__).resolve().parents[2]
BLOCK = os.urandom(1024 * 1024)
MIB = 1024 * 1024


def serve(chunked: bool):
    port = free_tcp_port()
    env = {**os.environ, "PAAS_DAPHNE_CHUNKED_BODIES": "1" if chunked else "0", "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "paas.settings"}
    process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "tests.builds.asgi_body_echo:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return process, port, upload(port, 1)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("daphne did not start")


def upload(port: int, mib: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.putrequest("PUT", "/upload")
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", str(mib * MIB))
    connection.endheaders()
    for _ in range(mib):
        connection.send(BLOCK)
    answer = json.loads(connection.getresponse().read())
    connection.close()
    return answer


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def peak_rss_during(pid: int, work):
    """(result of work(), baseline RSS, peak RSS) of process `pid`, sampled every 20 ms."""
    import threading

    baseline = rss_kib(pid)
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = work()
    finally:
        done.set()
        sampler.join()
    return result, baseline, max(peak[0], rss_kib(pid))


@pytest.mark.parametrize("chunked", [True, False], ids=["paas-daphne-body", "daphne-as-shipped"])
def test_a_large_body_arrives_whole_and_memory_stays_flat(chunked):
    process, port, _warm = serve(chunked)
    mib = 128
    try:
        answer, baseline, peak = peak_rss_during(process.pid, lambda: upload(port, mib))
    finally:
        process.kill()
        process.wait()
    expected = hashlib.sha256()
    for _ in range(mib):
        expected.update(BLOCK)
    assert answer["size"] == mib * MIB and answer["sha256"] == expected.hexdigest()
    growth_mib = (peak - baseline) / 1024
    print(f"\n{'chunked' if chunked else 'as shipped'}: peak RSS +{growth_mib:.0f} MiB for a {mib} MiB body "
          f"in {answer['chunks']} chunks")
    if chunked:
        assert growth_mib < 24, growth_mib  # a chunk or two, whatever the body size
        assert answer["chunks"] >= mib * MIB // (256 * 1024)
    else:
        assert growth_mib > mib / 2  # what the patch is for: daphne alone queues the whole body


def test_body_queue_serves_the_spooled_file_in_chunks():
    import asyncio
    import io

    from paas.daphne_body import CHUNK, BodyQueue

    body = os.urandom(3 * CHUNK + 5)

    class Request:
        content = io.BytesIO(body)

    async def scenario():
        queue = BodyQueue(Request())
        # What daphne's loop does: read a buffer, put it, read again until a short read.
        while True:
            chunk = Request.content.read(8192)
            more = len(chunk) == 8192
            queue.put_nowait({"type": "http.request", "body": chunk, "more_body": more})
            if not more:
                break
        assert queue.qsize() == 1  # the first buffer only: the rest stays in the file
        received = []
        while True:
            message = await queue.get()
            received.append(message["body"])
            if not message["more_body"]:
                break
        queue.put_nowait({"type": "http.disconnect"})
        return received, await queue.get()

    received, after = asyncio.run(scenario())
    assert b"".join(received) == body and max(len(r) for r in received) == CHUNK
    assert after == {"type": "http.disconnect"}
