"""`manage.py bench --only upload`: memory of the web process during a large artifact upload.

A real daphne (argv as `runall` starts it) on a free port, its own temporary SQLite database
and artifact directory; a 500 MiB artifact (seeded random bytes) PUT through the API
(`/api/v1/applications/<id>/artifacts/`, raw body, with its expected SHA-256) by an API
token. The web process's RSS is sampled from /proc every 20 ms: the baseline (after a small
warm-up upload) and the peak during the upload, so the table shows whether memory stays
flat, plus the upload's throughput. With --upload-compare the same upload runs against daphne
as shipped (without paas/http_server.py), which queues the whole body in memory first.
"""
import hashlib
import http.client
import json
import random
import time

from paas.bench_stack import BenchError, Sampler, Stack, baseline_rss_kib

MIB = 1024 * 1024

# daphne as shipped: the product with paas.http_server.install() made a no-op before paas.asgi calls it.
AS_SHIPPED = """
import paas.http_server
paas.http_server.install = lambda: None
from daphne.cli import CommandLineInterface
CommandLineInterface.entrypoint()
"""


def add_arguments(parser) -> None:
    group = parser.add_argument_group("upload (web process memory during an artifact upload, issue 10)")
    group.add_argument("--upload-mib", type=int, default=500, help="artifact size in MiB (default 500)")
    group.add_argument("--upload-compare", action="store_true",
                       help="also measure daphne as shipped (its whole-body queue; needs that much memory)")


def _blocks(mib: int, seed: int = 10):
    """The artifact: `mib` blocks of 1 MiB from a seeded generator (incompressible, reproducible)."""
    rng = random.Random(seed)
    block = rng.randbytes(MIB)
    for i in range(mib):
        # A different block each MiB without generating 500 MiB of randomness: rotate the seed block.
        shift = (i * 4099) % MIB
        yield block[shift:] + block[:shift]


def _sha256(mib: int) -> str:
    sha = hashlib.sha256()
    for block in _blocks(mib):
        sha.update(block)
    return sha.hexdigest()


def _put(port: int, token: str, app: int, mib: int, sha: str, name: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.putrequest("PUT", f"/api/v1/applications/{app}/artifacts/?filename={name}")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", str(mib * MIB))
    connection.putheader("X-Checksum-Sha256", sha)
    connection.endheaders()
    for block in _blocks(mib):
        connection.send(block)
    response = connection.getresponse()
    body = json.loads(response.read() or b"{}")
    connection.close()
    return response.status, body


def measure(stack: Stack, setup: dict, *, mib: int, sha: str, chunked: bool, label: str) -> dict:
    pid = stack.start_web(None if chunked else AS_SHIPPED)
    name = "chunked" if chunked else "shipped"
    try:
        warm_sha = _sha256(1)
        status, _body = _put(stack.port, setup["token"], setup["app"], 1, warm_sha, f"warm-{name}.bin")
        if status not in (200, 201):
            raise BenchError(f"warm-up upload answered {status}")
        baseline = baseline_rss_kib(pid)
        with Sampler(pid) as sampler:
            started = time.monotonic()
            status, body = _put(stack.port, setup["token"], setup["app"], mib, sha, f"artifact-{name}.bin")
            took = time.monotonic() - started
        if status != 201 or body.get("sha256") != sha:
            raise BenchError(f"the upload answered {status}: {json.dumps(body)[:300]}")
        return {"label": label, "baseline": baseline / 1024, "peak": sampler.peak / 1024,
                "growth": (sampler.peak - baseline) / 1024, "seconds": took, "throughput": mib / took}
    finally:
        stack.stop_web()


def run(out=print, *, mib: int = 500, compare: bool = False) -> list[dict]:
    out(f"  a {mib} MiB artifact PUT through /api/v1/applications/<id>/artifacts/ of a real daphne "
        f"(RSS sampled every 20 ms)")
    stack = Stack(out, prefix="paas-bench-upload-")
    rows = []
    try:
        setup = stack.setup()
        sha = _sha256(mib)
        variants = [(True, "daphne + paas.http_server")] + ([(False, "daphne as shipped")] if compare else [])
        for chunked, label in variants:
            rows.append(measure(stack, setup, mib=mib, sha=sha, chunked=chunked, label=label))
    except BenchError as exc:
        out(f"  upload benchmark failed: {exc}")
        return rows
    finally:
        stack.close()
    out(f"  {'web process':<28} {'baseline RSS':>13} {'peak RSS':>10} {'difference':>11} {'time':>8} {'throughput':>12}")
    for row in rows:
        out(f"  {row['label']:<28} {row['baseline']:>9.0f} MiB {row['peak']:>6.0f} MiB {row['growth']:>+7.0f} MiB "
            f"{row['seconds']:>6.1f} s {row['throughput']:>7.0f} MiB/s")
    return rows
