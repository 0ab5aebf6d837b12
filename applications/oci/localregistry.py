"""Debian's docker-registry (the CNCF distribution registry) on a free 127.0.0.1 port.

For the benchmark and the tests: a throwaway registry whose storage lives in a directory of the
caller's (a temp dir), started with ``docker-registry serve <config>`` and stopped afterwards.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from paas.supervisor import stop_process

BINARY = "/usr/bin/docker-registry"


class RegistryNotAvailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def binary() -> str | None:
    return shutil.which("docker-registry") or (BINARY if Path(BINARY).exists() else None)


@dataclass
class LocalRegistry:
    host: str
    url: str
    root: Path
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start(root: Path, extra_config: str = "", port: int | None = None, timeout: float = 15) -> LocalRegistry:
    """Start a registry storing its data under ``root``; ``extra_config`` is appended to its YAML
    config (an ``auth:`` section, say). Raises RegistryNotAvailable when the binary is missing."""
    program = binary()
    if program is None:
        raise RegistryNotAvailable("docker-registry is not installed (Debian package docker-registry)")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = root / "config.yml"
    log = root / "registry.log"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: local-registry-secret\n" + extra_config)
    with open(log, "wb") as out:
        process = subprocess.Popen([program, "serve", str(config)], stdout=out,  # noqa: S603 - fixed argv
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{url}/v2/", timeout=1).status_code in (200, 401):
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RegistryNotAvailable(f"docker-registry did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    return LocalRegistry(host=f"127.0.0.1:{port}", url=url, root=root, process=process, log=log)
