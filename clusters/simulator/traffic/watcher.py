"""Learns pods, services and endpoints of every simulated cluster the way any other
client would: list, then watch, through the cluster's own Kubernetes API with the
credentials of its kubeconfig.

Going through the API rather than reading the clusters' stores keeps one code path for
one simulator process and for ``--processes K`` (where the clusters live in child
processes and the traffic server in the parent). The price is a watch delay of a few
milliseconds, which is fine: the providers' own lags are seconds.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import yaml

from .state import World

log = logging.getLogger("clusters.simulator.traffic")

# (kind in World, list path) — all namespaces.
RESOURCES = (("pod", "/api/v1/pods"), ("service", "/api/v1/services"), ("endpoints", "/api/v1/endpoints"))
RETRY_SECONDS = 0.5


@dataclass
class Target:
    """One cluster's API server as its kubeconfig names it."""

    name: str
    url: str
    token: str
    ca_pem: bytes | None = None

    @classmethod
    def from_kubeconfig(cls, path: str | Path) -> Target:
        config = yaml.safe_load(Path(path).read_text())
        cluster = config["clusters"][0]
        ca = cluster["cluster"].get("certificate-authority-data")
        return cls(cluster["name"], cluster["cluster"]["server"], config["users"][0]["user"]["token"],
                   base64.b64decode(ca) if ca else None)


class ClusterWatcher:
    """List+watch loops of one cluster, feeding a World; reconnects (and re-lists) forever."""

    def __init__(self, target: Target, world: World):
        self.target = target
        self.world = world
        self.tasks: list[asyncio.Task] = []
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        context = None
        if self.target.url.startswith("https"):
            context = ssl.create_default_context(cadata=self.target.ca_pem.decode() if self.target.ca_pem else None)
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context if context is not None else False, limit=0),
            headers={"Authorization": f"Bearer {self.target.token}"},
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._run(kind, path), name=f"traffic-watch-{self.target.name}-{kind}")
                      for kind, path in RESOURCES]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    async def _run(self, kind: str, path: str) -> None:
        while True:
            try:
                version = await self._list(kind, path)
                while version:
                    version = await self._watch(kind, path, version)
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, OSError, ValueError, KeyError, TimeoutError) as exc:
                log.debug("traffic watch of %s %s: %s", self.target.name, kind, exc)
            await asyncio.sleep(RETRY_SECONDS)

    def _apply(self, kind: str, type_: str, obj: dict) -> None:
        cluster = self.target.name
        if kind == "pod":
            if type_ == "DELETED":
                meta = obj.get("metadata") or {}
                self.world.remove_pod((cluster, meta.get("namespace", ""), meta.get("name", "")))
            else:
                self.world.put_pod(cluster, obj)
            return
        if type_ == "DELETED":
            meta = obj.get("metadata") or {}
            self.world.remove(kind, (cluster, meta.get("namespace", ""), meta.get("name", "")))
        else:
            self.world.put(kind, cluster, obj)

    async def _list(self, kind: str, path: str) -> str:
        async with self.session.get(self.target.url + path) as response:
            if response.status != 200:
                raise aiohttp.ClientError(f"list answered {response.status}")
            body = await response.json()
        seen = set()
        for obj in body.get("items") or ():
            meta = obj.get("metadata") or {}
            seen.add((self.target.name, meta.get("namespace", ""), meta.get("name", "")))
            self._apply(kind, "ADDED", obj)
        for key in self.world.keys_of(kind, self.target.name):
            if key not in seen:  # deleted while we were not watching
                if kind == "pod":
                    self.world.remove_pod(key)
                else:
                    self.world.remove(kind, key)
        self.world.synced.add((self.target.name, kind))
        return body["metadata"]["resourceVersion"]

    async def _watch(self, kind: str, path: str, version: str) -> str:
        """Apply events until the stream ends; the version to resume from, or "" to re-list."""
        params = {"watch": "true", "resourceVersion": version, "allowWatchBookmarks": "true",
                  "timeoutSeconds": "300"}
        async with self.session.get(self.target.url + path, params=params) as response:
            if response.status != 200:
                return ""
            buffer = b""
            # Not readline(): aiohttp caps a line at 128 KiB, and the Endpoints of a big
            # Service are longer than that.
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    type_, obj = event.get("type"), event.get("object") or {}
                    if type_ == "ERROR":
                        return ""  # 410 Expired (or worse): start again from a list
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if type_ in ("ADDED", "MODIFIED", "DELETED"):
                        self._apply(kind, type_, obj)
            return version
