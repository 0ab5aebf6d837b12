"""Runs N simulated clusters in one asyncio process, each on its own loopback port, plus
one admin port, and writes a kubeconfig per cluster.

Entry points:
- ``run(...)``: foreground, until SIGINT/SIGTERM (used by ``manage.py kubesim`` and
  ``python -m clusters.simulator``); with ``processes > 1`` the clusters are spread over
  child processes (``processes.py``);
- ``BackgroundServer``: the same in a thread, for tests and benchmarks.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import secrets
import signal
import threading
from pathlib import Path

import yaml
from aiohttp import web

from .admin import AdminApi, cluster_admin, rss_bytes
from .api import ClusterApi
from .apiserver import ApiServer
from .bootstrap import bootstrap
from .controllers import build_controllers
from .discovery import Discovery
from .faults import Faults
from .pki import ensure_pki, server_context
from .registry import Registry
from .store import Store

log = logging.getLogger("clusters.simulator")


def _existing_token(path: Path) -> str | None:
    """Reuse the token of an earlier run so stored credentials keep working across restarts."""
    try:
        config = yaml.safe_load(path.read_text())
        return config["users"][0]["user"]["token"]
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError):
        return None


# kube-apiserver accepts request bodies up to 3 MiB (aiohttp's default is 1 MiB), so a
# near-limit ConfigMap or Secret that a real cluster takes is not refused here.
MAX_BODY = 3 * 1024 * 1024


def _request_factory(loop):
    def make(message, payload, protocol, writer, task):
        return web.BaseRequest(message, payload, protocol, writer, task, loop, client_max_size=MAX_BODY)
    return make


class SimCluster:
    def __init__(self, name: str, port: int, *, host: str = "127.0.0.1", token: str | None = None,
                 ready_delay: float = 2.0, nodes: int = 3, history_size: int = 10_000,
                 ssl_context=None, ca_pem: bytes | None = None):
        self.name = name
        self.ssl_context = ssl_context
        self.ca_pem = ca_pem
        self.host = host
        self.port = port
        self.token = token or secrets.token_urlsafe(24)
        self.ready_delay = ready_delay
        self.nodes = nodes
        self.kubeconfig_path: Path | None = None
        self.registry = Registry()
        self.store = Store(history_size)
        self.api = ApiServer(self.store, self.registry)
        self.discovery = Discovery(self.registry, f"{host}:{port}")
        self.faults = Faults()
        self.manager = None
        self._runner: web.ServerRunner | None = None
        self._site: web.TCPSite | None = None
        self._task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://{self.host}:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.manager = build_controllers(self.api, loop, self.ready_delay)
        bootstrap(self.api, self.name, self.nodes)
        self._task = loop.create_task(self.manager.run(), name=f"controllers-{self.name}")
        server = web.Server(ClusterApi(self), handler_cancellation=True, access_log=None,
                            request_factory=_request_factory(loop))
        self._runner = web.ServerRunner(server)
        await self._runner.setup()
        await self._listen()

    async def _listen(self) -> None:
        self._site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True,
                                 ssl_context=self.ssl_context)
        await self._site.start()
        if self.port == 0:  # an ephemeral port was asked for: keep it for later restarts
            self.port = self._site._server.sockets[0].getsockname()[1]  # noqa: SLF001
            self.discovery.server_address = f"{self.host}:{self.port}"

    async def apply_down_state(self) -> None:
        """Close the listening socket and drop connections when down; listen again when up."""
        if self.faults.down and self._site is not None:
            await self._site.stop()
            self._site = None
            for handler in self._runner.server.connections:
                handler.force_close()
                if handler.transport is not None:
                    handler.transport.close()
        elif not self.faults.down and self._site is None:
            await self._listen()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._runner is not None:
            for handler in self._runner.server.connections:
                handler.force_close()
            await self._runner.cleanup()

    async def admin_request(self, request, action: str):
        return await cluster_admin(self, request, action)

    def kubeconfig(self) -> dict:
        cluster = {"server": self.url}
        if self.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        return {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": self.name, "cluster": cluster}],
            "users": [{"name": f"{self.name}-admin", "user": {"token": self.token}}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": f"{self.name}-admin",
                                                         "namespace": "default"}}],
            "current-context": self.name,
        }

    def write_kubeconfig(self, directory: Path) -> Path:
        path = directory / f"{self.name}.kubeconfig"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(self.kubeconfig(), sort_keys=False))
        os.chmod(tmp, 0o600)  # it holds a bearer token
        tmp.replace(path)
        self.kubeconfig_path = path
        return path

    def describe(self) -> dict:
        return {"name": self.name, "url": self.url, "kubeconfig": str(self.kubeconfig_path or ""),
                "faults": self.faults.to_dict()}

    def stats(self) -> dict:
        return {
            "name": self.name, "resourceVersion": self.store.rv,
            "objects": {name: bucket.count for name, bucket in sorted(self.store.buckets.items()) if bucket.count},
            "watchers": sum(len(w) for w in self.store.watchers.values()),
            "history": len(self.store.history), "timers": len(self.manager.timers) if self.manager else 0,
            "queued": self.manager.pending() if self.manager else 0, "pid": os.getpid(), **rss_bytes(),
        }


class SimServer:
    def __init__(self, names: list[str], base_port: int, state_dir: str | os.PathLike, *, admin_port: int | None = None,
                 ready_delay: float = 2.0, nodes_per_cluster: int = 3, host: str = "127.0.0.1",
                 history_size: int = 10_000, tls: bool = True, admin_socket: str | None = None,
                 traffic_port: int | None = None, traffic_lag: float = 2.0, traffic_heartbeat: float = 3.0):
        self.state_dir = Path(state_dir)
        # A child of a multi-process simulator serves its admin API on a private unix
        # socket for the parent to forward to, and leaves clusters.json to the parent.
        self.admin_socket = admin_socket
        self.host = host
        ssl_context = ca_pem = None
        if tls:
            pki = ensure_pki(self.state_dir / "pki", (host, "localhost"))
            ssl_context, ca_pem = server_context(pki), pki["ca.crt"].read_bytes()
        self.admin_port = base_port + len(names) if admin_port is None and base_port else (admin_port or 0)
        self.clusters = []
        for i, name in enumerate(names):
            token = _existing_token(self.state_dir / f"{name}.kubeconfig")
            port = base_port + i if base_port else 0
            self.clusters.append(SimCluster(name, port, host=host, token=token, ready_delay=ready_delay,
                                            nodes=nodes_per_cluster, history_size=history_size,
                                            ssl_context=ssl_context, ca_pem=ca_pem))
        self._admin_runner: web.ServerRunner | None = None
        # The traffic side (registry, LB, DNS, generators, Prometheus): None = not started.
        self.traffic_options = None if traffic_port is None else {
            "port": traffic_port, "lag": traffic_lag, "heartbeat": traffic_heartbeat}
        self.traffic = None

    def cluster(self, name: str) -> SimCluster | None:
        return next((c for c in self.clusters if c.name == name), None)

    @property
    def admin_url(self) -> str:
        return f"unix:{self.admin_socket}" if self.admin_socket else f"http://{self.host}:{self.admin_port}"

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for cluster in self.clusters:
            await cluster.start()
            cluster.write_kubeconfig(self.state_dir)
        self._admin_runner = web.ServerRunner(web.Server(AdminApi(self), access_log=None))
        await self._admin_runner.setup()
        if self.admin_socket:
            await web.UnixSite(self._admin_runner, self.admin_socket).start()
            return
        site = web.TCPSite(self._admin_runner, self.host, self.admin_port, reuse_address=True)
        await site.start()
        self.admin_port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
        summary = {"admin": self.admin_url, "clusters": [c.describe() for c in self.clusters]}
        if self.traffic_options is not None:
            from .traffic.server import TrafficServer
            from .traffic.watcher import Target

            targets = [Target(c.name, c.url, c.token, c.ca_pem) for c in self.clusters]
            self.traffic = TrafficServer(targets, host=self.host, **self.traffic_options)
            await self.traffic.start()
            summary["traffic_url"] = self.traffic.url
        (self.state_dir / "clusters.json").write_text(json.dumps(summary, indent=1))

    async def stop(self) -> None:
        if self.traffic is not None:
            await self.traffic.stop()
        for cluster in self.clusters:
            await cluster.stop()
        if self._admin_runner is not None:
            await self._admin_runner.cleanup()

    def summary_lines(self) -> list[str]:
        lines = [f"{c.name}  {c.url}  {c.kubeconfig_path}" for c in self.clusters]
        lines.append(f"admin  {self.admin_url}  (faults: POST {self.admin_url}/clusters/<name>/faults)")
        if self.traffic is not None:
            lines.append(f"traffic  {self.traffic.url}  (registry, LB, DNS, generators, Prometheus)")
        return lines


def run(names: list[str], base_port: int, state_dir: str, *, admin_port: int | None = None,
        ready_delay: float = 2.0, nodes_per_cluster: int = 3, tls: bool = True, history_size: int = 10_000,
        print_fn=print, processes: int = 1, admin_socket: str | None = None, traffic_port: int | None = None,
        traffic_lag: float = 2.0, traffic_heartbeat: float = 3.0) -> None:
    """Serve in the foreground until SIGINT or SIGTERM.

    ``processes > 1`` spreads the clusters over that many child processes (see
    ``processes.py``); ``admin_socket`` is how such a child is started."""
    options = dict(admin_port=admin_port, ready_delay=ready_delay, nodes_per_cluster=nodes_per_cluster, tls=tls,
                   history_size=history_size, traffic_port=traffic_port, traffic_lag=traffic_lag,
                   traffic_heartbeat=traffic_heartbeat)
    if processes > 1 and len(names) > 1:
        from .processes import run_processes

        run_processes(names, base_port, state_dir, processes, print_fn=print_fn, **options)
        return

    async def main() -> None:
        server = SimServer(names, base_port, state_dir, admin_socket=admin_socket, **options)
        await server.start()
        for line in server.summary_lines():
            print_fn(line)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if admin_socket:
            _stop_when_parent_exits(loop, stop)
        await stop.wait()
        await server.stop()

    asyncio.run(main())


def _stop_when_parent_exits(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """A child's stdin is a pipe from its parent, which never writes to it: end of file
    means the parent is gone (even killed with SIGKILL), so no child outlives it."""

    def on_stdin() -> None:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(0)
            stop.set()

    loop.add_reader(0, on_stdin)


class BackgroundServer:
    """A SimServer on its own event loop thread; ``start()`` returns once it serves."""

    def __init__(self, names: list[str], state_dir, **options):
        self.server = SimServer(names, options.pop("base_port", 0), state_dir, **options)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kubesim", daemon=True)

    def start(self) -> BackgroundServer:
        self._thread.start()
        self.call(self.server.start())
        return self

    def call(self, coroutine, timeout: float = 60):
        """Run a coroutine on the server's loop (e.g. store access) and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()
