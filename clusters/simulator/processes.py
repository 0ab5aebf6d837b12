"""``--processes K``: the clusters spread over K child processes, one admin port for all.

One asyncio process serves all its clusters on one core, which a federation benchmark
at 100 clusters saturated. Here the parent splits the clusters into K contiguous
ranges and starts one ordinary simulator per range (``python -m clusters.simulator``,
fresh interpreters rather than forks, so no event loop or socket is inherited). Each
cluster keeps the port it would have had in one process, and each child writes its
clusters' kubeconfigs exactly as a single process does (tokens of an earlier run kept).

The parent:
- creates the PKI before any child starts (children then only read it);
- serves the one admin port: ``GET /clusters`` gathers every child's list, and each
  ``/clusters/<name>/...`` request is forwarded to the child owning that cluster, which
  serves its admin API on a private unix socket (no TCP port that could collide with a
  cluster's);
- writes ``clusters.json`` and prints the usual summary lines only once every child
  serves;
- runs the traffic side (``--traffic-port``) itself, watching every child's clusters
  through their APIs, so one registry/LB/DNS/Prometheus covers them all;
- stops all children on SIGINT/SIGTERM, and stops the others and exits non-zero when
  one dies. A child treats end of file on its stdin, a pipe from the parent, as the
  parent's death and stops too.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import aiohttp
from aiohttp import web

from .pki import ensure_pki

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # so children import this same code
_STOP_GRACE = 10  # seconds a child gets to stop before SIGKILL


def split(names: list[str], processes: int) -> list[tuple[int, list[str]]]:
    """Contiguous (offset, names) ranges, sizes differing by at most one."""
    processes = max(1, min(processes, len(names)))
    size, extra = divmod(len(names), processes)
    ranges, start = [], 0
    for index in range(processes):
        end = start + size + (1 if index < extra else 0)
        ranges.append((start, names[start:end]))
        start = end
    return ranges


class ChildFailed(Exception):
    pass


class Child:
    """One child simulator: its process, its clusters and a client for its admin socket."""

    def __init__(self, index: int, offset: int, names: list[str], socket_path: str):
        self.index = index
        self.offset = offset
        self.names = names
        self.socket_path = socket_path
        self.process: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self.session: aiohttp.ClientSession | None = None

    def __str__(self) -> str:
        return f"child {self.index + 1} ({self.names[0]}..{self.names[-1]})"

    async def start(self, argv: list[str]) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")])))
        # Its own session: a Ctrl-C on the terminal reaches the parent only, which then
        # stops the children itself (otherwise a child could exit first and look dead).
        self.process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env, start_new_session=True)
        for _ in range(len(self.names) + 1):  # one line per cluster, then its admin line
            line = await self.process.stdout.readline()
            if not line:
                code = await self.process.wait()
                raise ChildFailed(f"{self} exited with code {code} before serving")
            self.lines.append(line.decode().rstrip("\n"))
        self.session = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=self.socket_path),
                                             timeout=aiohttp.ClientTimeout(total=None))

    async def admin(self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"):
        """(status, body, content type) of one admin request to this child."""
        async with self.session.request(method, f"http://child{path}", data=body,
                                        headers={"Content-Type": content_type}) as response:
            return response.status, await response.read(), response.content_type

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        process = self.process
        if process is None or process.returncode is not None:
            return
        if process.stdin is not None:
            process.stdin.close()
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), _STOP_GRACE)
        except TimeoutError:
            process.kill()
            await process.wait()


def _json(data, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, indent=1), status=status, content_type="application/json")


class ForwardingAdminApi:
    """The admin port of a multi-process simulator (same URLs as ``admin.AdminApi``)."""

    def __init__(self, children: list[Child]):
        self.children = children
        self.owner = {name: child for child in children for name in child.names}

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["healthz"]:
            return web.Response(text="ok")
        try:
            if parts == ["clusters"]:
                return _json(await describe_all(self.children))
            if len(parts) == 3 and parts[0] == "clusters":
                child = self.owner.get(parts[1])
                if child is None:
                    return _json({"error": f"no cluster named {parts[1]}"}, 404)
                status, body, content_type = await child.admin(
                    request.method, request.path_qs, await request.read(),
                    request.headers.get("Content-Type", "application/json"))
                return web.Response(body=body, status=status, content_type=content_type)
        except aiohttp.ClientError as exc:
            return _json({"error": f"simulator child unreachable: {exc}"}, 502)
        return _json({"error": "not found"}, 404)


async def describe_all(children: list[Child]) -> list[dict]:
    listed = []
    for child in children:
        status, body, _ = await child.admin("GET", "/clusters")
        if status != 200:
            raise aiohttp.ClientError(f"{child}: GET /clusters answered {status}")
        listed.extend(json.loads(body))
    return listed


def _child_argv(names: list[str], port: int, state_dir: str, socket_path: str, *, ready_delay: float,
                nodes_per_cluster: int, history_size: int, tls: bool) -> list[str]:
    argv = [sys.executable, "-m", "clusters.simulator", "--clusters", str(len(names)), "--names", ",".join(names),
            "--port", str(port), "--state-dir", str(state_dir), "--ready-delay", str(ready_delay),
            "--nodes-per-cluster", str(nodes_per_cluster), "--watch-history", str(history_size),
            "--child-admin-socket", socket_path]
    return argv if tls else [*argv, "--plain-http"]


def run_processes(names: list[str], base_port: int, state_dir: str, processes: int, *, admin_port: int | None = None,
                  ready_delay: float = 2.0, nodes_per_cluster: int = 3, tls: bool = True, history_size: int = 10_000,
                  host: str = "127.0.0.1", print_fn=print, traffic_port: int | None = None, traffic_lag: float = 2.0,
                  traffic_heartbeat: float = 3.0) -> None:
    """Serve ``names`` from ``processes`` children until SIGINT/SIGTERM; exit 1 if a child dies."""
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    if tls:
        ensure_pki(state / "pki", (host, "localhost"))  # once, here: children only read it
    if admin_port is None:
        admin_port = base_port + len(names) if base_port else 0
    sockets = tempfile.mkdtemp(prefix="kubesim-")  # short path: unix socket paths are limited to ~100 bytes
    children = [Child(i, offset, part, os.path.join(sockets, f"child-{i + 1}.sock"))
                for i, (offset, part) in enumerate(split(names, processes))]

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runner = traffic = None
        try:
            starting = asyncio.gather(*(
                child.start(_child_argv(child.names, base_port + child.offset if base_port else 0, state_dir,
                                        child.socket_path, ready_delay=ready_delay,
                                        nodes_per_cluster=nodes_per_cluster, history_size=history_size, tls=tls))
                for child in children))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():  # asked to stop while starting
                starting.cancel()
                return 0
            starting.result()  # raises ChildFailed
            runner = web.ServerRunner(web.Server(ForwardingAdminApi(children), access_log=None))
            await runner.setup()
            site = web.TCPSite(runner, host, admin_port, reuse_address=True)
            await site.start()
            admin_url = f"http://{host}:{site._server.sockets[0].getsockname()[1]}"  # noqa: SLF001
            summary = {"admin": admin_url, "clusters": await describe_all(children)}
            if traffic_port is not None:
                # Here, not in a child: it must see every child's clusters (through their APIs).
                from .traffic.server import TrafficServer
                from .traffic.watcher import Target

                targets = [Target.from_kubeconfig(c["kubeconfig"]) for c in summary["clusters"]]
                traffic = TrafficServer(targets, host=host, port=traffic_port, lag=traffic_lag,
                                        heartbeat=traffic_heartbeat)
                await traffic.start()
                summary["traffic_url"] = traffic.url
            (state / "clusters.json").write_text(json.dumps(summary, indent=1))
            for child in children:
                for line in child.lines[:-1]:  # the child's own admin line is private
                    print_fn(line)
            print_fn(f"admin  {admin_url}  (faults: POST {admin_url}/clusters/<name>/faults)")
            if traffic is not None:
                print_fn(f"traffic  {traffic.url}  (registry, LB, DNS, generators, Prometheus)")
            exits = {asyncio.ensure_future(child.process.wait()): child for child in children}
            done, _ = await asyncio.wait([stopping, *exits], return_when=asyncio.FIRST_COMPLETED)
            died = [exits[task] for task in done if task in exits]
            if died and not stop.is_set():
                raise ChildFailed(f"{died[0]} exited with code {died[0].process.returncode}")
            return 0
        except ChildFailed as exc:
            print(f"kubesim: {exc}; stopping the other children", file=sys.stderr, flush=True)
            return 1
        finally:
            if traffic is not None:
                await traffic.stop()
            if runner is not None:
                await runner.cleanup()
            await asyncio.gather(*(child.stop() for child in children))

    try:
        code = asyncio.run(main())
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    if code:
        raise SystemExit(code)
