"""Builds through ``buildah bud`` (``settings.BUILDER == "buildah"``): Dockerfiles with RUN.

Checked on this project's machine kind (Debian 12, root in a container, buildah 1.28.2): with the
``vfs`` storage driver and ``--isolation chroot``, ``buildah from scratch``, ``buildah bud`` of a
Dockerfile without RUN and of one with RUN, and ``buildah push`` to docker-registry all work, and
``--timestamp`` makes two builds of the same inputs push the same digest. ``check()`` repeats
that check on any machine (``manage.py oci_check_buildah``).

Each build gets its own storage (``--root``/``--runroot`` in a temp dir, removed afterwards): no
state is shared between builds or left behind, at the price of pulling the base each time. A
short name (``FROM platform/jre:17``) resolves to the built-in registry through a registries.conf
written for the build; credentials go into an auth file of the build, never on a command line.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from . import dockerfile as df
from . import layers as ly
from .builder import BuildCancelled, BuildError, BuildResult, _short, push_provenance
from .client import RegistryClient
from .context import clean_name
from .references import ImageRef, parse

BUILDAH = "buildah"
BUILDER_ID = "buildah"


class BuildahUnavailable(BuildError):
    pass


def version() -> str | None:
    """``"1.28.2"``, or None when buildah is not installed."""
    if not shutil.which(BUILDAH):
        return None
    try:
        out = subprocess.run([BUILDAH, "--version"], capture_output=True, text=True,  # noqa: S603 - fixed argv
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"version (\S+)", out)
    return match.group(1) if match else None


def _base_args(root: Path) -> list[str]:
    return [BUILDAH, "--root", str(root / "storage"), "--runroot", str(root / "run"), "--storage-driver", "vfs"]


def _debug(line: str) -> bool:
    return line.startswith('time="') and "level=debug" in line


def _run(what: str, command: list[str], *, env: dict, log: Callable[[str], None], cancelled: Callable[[], bool],
         timeout: float | None = None, cwd: Path | None = None) -> list[str]:
    """Run one buildah command, its output lines going to ``log`` as they come; stops it
    (the whole process group) when the build is cancelled or runs out of time."""
    lines: list[str] = []
    # argv built here (a list, no shell); build args and labels are single argv entries.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # noqa: S603
                               text=True, env=env, cwd=cwd, start_new_session=True)

    def pump():
        for line in process.stdout:
            line = line.rstrip()
            lines.append(line)
            if not _debug(line):  # debug lines: parsed, not shown
                log(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    started = time.monotonic()
    while process.poll() is None:
        stop = cancelled() or (timeout is not None and time.monotonic() - started > timeout)
        if stop:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            reader.join(timeout=5)
            if cancelled():
                log("Cancelled.")
                raise BuildCancelled("the build was cancelled")
            raise BuildError(f"buildah {what} ran out of time ({timeout:.0f} s)")
        time.sleep(0.2)
    reader.join(timeout=10)
    if process.returncode != 0:
        # The error is shown to every reader of the build: never buildah's debug lines (request URLs).
        tail = "; ".join([line for line in lines if line and not _debug(line)][-5:]) or "no output"
        raise BuildError(f"buildah {what} failed (exit {process.returncode}): {tail}")
    return lines


def _auth_file(path: Path, clients: dict[str, RegistryClient]) -> None:
    auths = {}
    for host, client in clients.items():
        if client.token and not client.username:
            raise BuildError(f"buildah needs a user name and password (or API token) for {host}, not a bearer token")
        if client.username is not None:
            secret = base64.b64encode(f"{client.username}:{client.password or ''}".encode()).decode()
            auths[host] = {"auth": secret}
    path.write_text(json.dumps({"auths": auths}))
    path.chmod(0o600)


def _registries_conf(path: Path, default_registry: str, insecure_hosts: set[str]) -> None:
    # One search registry: short names are never ambiguous, so buildah never prompts.
    lines = [f'unqualified-search-registries = ["{default_registry}"]', 'short-name-mode = "permissive"']
    for host in sorted(insecure_hosts):
        lines += ["", "[[registry]]", f'location = "{host}"', "insecure = true"]
    path.write_text("\n".join(lines) + "\n")


def build_image(*, dockerfile: str, context_files: dict[str, bytes] | None = None, artifact: Path | None = None,
                artifact_name: str | None = None, target: ImageRef, client: RegistryClient,
                base_client_for: Callable[[str], RegistryClient] | None = None, labels: dict | None = None,
                build_id: str = "", build_args: dict | None = None, provenance: dict | None = None,
                log: Callable[[str], None] | None = None, cancelled: Callable[[], bool] | None = None,
                workdir: Path | None = None, timeout: float | None = None) -> BuildResult:
    """``builder.build_image``'s contract, carried out by ``buildah bud`` and ``buildah push``."""
    from django.conf import settings

    log = log or (lambda message: None)
    cancelled = cancelled or (lambda: False)
    found = version()
    if found is None:
        raise BuildahUnavailable("BUILDER=buildah, but buildah is not installed on this worker")
    build_args = {str(k): str(v) for k, v in (build_args or {}).items()}
    plan = df.plan(dockerfile, build_args, refuse=False)  # buildah runs RUN; only the base is needed here
    log(f"Building with buildah {found} (vfs storage, chroot isolation).")

    def client_for(host: str) -> RegistryClient:
        if base_client_for is not None:
            return base_client_for(host)
        return client if host == target.registry else RegistryClient(host)

    base_ref, base_digest = None, ""
    if plan.base is not None:
        base_ref = parse(plan.base)
        base_digest = client_for(base_ref.registry).manifest_digest(base_ref.repository, base_ref.reference) or ""
        if not base_digest:
            from .builder import BaseImageNotFound

            raise BaseImageNotFound(f"the base image {base_ref} is not in its registry")
        log(f"Base image {base_ref} is {base_digest}.")

    fixed = {"org.opencontainers.image.created": ly.EPOCH_ISO}
    if base_ref is not None:
        fixed["org.opencontainers.image.base.name"] = str(base_ref)
        fixed["org.opencontainers.image.base.digest"] = base_digest
    if build_id:
        fixed["io.stratus.build.id"] = str(build_id)
    all_labels = {**{str(k): str(v) for k, v in (labels or {}).items()}, **fixed}

    with tempfile.TemporaryDirectory(prefix="oci-buildah-", dir=workdir) as tmp:
        root = Path(tmp)
        context = root / "context"
        context.mkdir()
        for name, data in (context_files or {}).items():
            path = context / clean_name(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if artifact is not None:
            path = context / clean_name(artifact_name or Path(artifact).name)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(artifact, path)
            except OSError:
                shutil.copyfile(artifact, path)
        (root / "Dockerfile").write_text(dockerfile)
        push_host = client.host
        hosts = {push_host: client}
        if base_ref is not None:
            hosts.setdefault(base_ref.registry, client_for(base_ref.registry))
        _auth_file(root / "auth.json", hosts)
        insecure = {h for h, c in hosts.items() if c.insecure}
        _registries_conf(root / "registries.conf", settings.REGISTRY_HOST, insecure)
        env = {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(root / "registries.conf"),
               "REGISTRY_AUTH_FILE": str(root / "auth.json"), "BUILDAH_ISOLATION": "chroot",
               "TMPDIR": str(root)}
        local = f"localhost/stratus-build:{build_id or 'latest'}".lower()
        command = [*_base_args(root), "bud", "--isolation", "chroot", "--layers=false", "--format", "oci",
                   "--timestamp", str(ly.EPOCH), "--identity-label=false", "--authfile", str(root / "auth.json"),
                   "--file", str(root / "Dockerfile"), "--tag", local, "--iidfile", str(root / "image-id")]
        command += ["--tls-verify=false"] if insecure else []
        for key, value in build_args.items():
            command += ["--build-arg", f"{key}={value}"]
        for key, value in sorted(all_labels.items()):
            command += ["--label", f"{key}={value}"]
        command.append(str(context))
        started = time.monotonic()
        _run("bud", command, env=env, log=log, cancelled=cancelled, timeout=timeout, cwd=root)

        destination = f"docker://{push_host}/{target.repository}:{target.tag or 'latest'}"
        log(f"Pushing to {target}.")
        config_digest = "sha256:" + (root / "image-id").read_text().strip().removeprefix("sha256:")
        config_existed = client.head_blob(target.repository, config_digest) is not None
        # Debug output is the only place buildah says which blobs the registry had already.
        push = [*_base_args(root)[:1], "--log-level=debug", *_base_args(root)[1:], "push", "--format", "oci",
                "--digestfile", str(root / "digest"),
                "--authfile", str(root / "auth.json")]
        push += ["--tls-verify=false"] if insecure else []
        lines = _run("push", [*push, local, destination], env=env, log=log, cancelled=cancelled, timeout=timeout, cwd=root)
        digest = (root / "digest").read_text().strip()

    layers_total = len({line.split()[2] for line in lines if line.startswith("Copying blob")})
    layers_reused = len(set(re.findall(r"Skipping blob (sha256:[a-f0-9]{64}) \(already present\)", "\n".join(lines))))
    reused = layers_reused + (1 if config_existed else 0)
    uploaded = max(0, layers_total - layers_reused) + (0 if config_existed else 1)
    manifest = client.get_manifest(target.repository, digest)
    size = int(manifest.config.get("size") or 0) + sum(int(d.get("size") or 0) for d in manifest.layers)
    record = {
        **(provenance or {}),
        "_type": "https://stratus.example/provenance/v1",
        "subject": {"name": target.name, "digest": digest, "tag": target.tag or ""},
        "builder": {"id": BUILDER_ID, "version": found},
        "base": {"name": str(base_ref) if base_ref else "scratch", "digest": base_digest},
        "dockerfile": {"sha256": hashlib.sha256(dockerfile.encode()).hexdigest()},
        "buildArgs": build_args,
        "buildId": str(build_id),
    }
    if cancelled():
        log("Cancelled.")
        raise BuildCancelled("the build was cancelled")
    provenance_digest = push_provenance(client, target.repository, record, manifest.descriptor())
    log(f"Provenance {_short(provenance_digest)} attached to the image.")
    log(f"Done in {time.monotonic() - started:.1f} s: {target.name}@{digest}.")
    return BuildResult(digest=digest, size=size, base_digest=base_digest, config_digest=manifest.config["digest"],
                       blobs_uploaded=uploaded, blobs_reused=reused, provenance_digest=provenance_digest,
                       manifest=manifest.data, image=f"{target.name}@{digest}", layers=manifest.layers,
                       provenance=record)


def check(log: Callable[[str], None] = print, workdir: Path | None = None) -> list[tuple[str, bool, str]]:
    """Can buildah build here? Runs ``from scratch``, a RUN-less ``bud`` and a ``bud`` with RUN
    (on a base made of this machine's /bin/sh), all with vfs storage and chroot isolation.
    Returns (command, ok, message) per step; nothing is pushed and nothing is left behind."""
    found = version()
    if found is None:
        return [("buildah --version", False, "buildah is not installed")]
    results = [("buildah --version", True, found)]
    with tempfile.TemporaryDirectory(prefix="oci-buildah-check-", dir=workdir) as tmp:
        root = Path(tmp)
        base = _base_args(root)
        env = {**os.environ, "BUILDAH_ISOLATION": "chroot", "TMPDIR": str(root)}
        (root / "ctx").mkdir()
        (root / "ctx" / "hello.txt").write_text("hello\n")
        (root / "ctx" / "Dockerfile.copy").write_text("FROM scratch\nCOPY hello.txt /hello.txt\nCMD [\"/x\"]\n")
        (root / "ctx" / "Dockerfile.run").write_text("FROM localhost/stratus-shell\nRUN echo ran > /ran.txt\n")
        shell = shutil.which("dash") or shutil.which("sh") or "/bin/sh"
        ldd = subprocess.run([shutil.which("ldd") or "/usr/bin/ldd", shell],  # noqa: S603 - fixed argv
                             capture_output=True, text=True, timeout=30).stdout
        libraries = re.findall(r"(/\S+\.so[.\d]*)", ldd)
        steps = [
            ("from scratch", [*base, "from", "--name", "check", "scratch"]),
            ("bud (no RUN)", [*base, "bud", "--isolation", "chroot", "--timestamp", "0", "-f",
                              str(root / "ctx" / "Dockerfile.copy"), "-t", "localhost/check-copy", str(root / "ctx")]),
            ("copy a shell into a scratch container", [*base, "copy", "check", shell, "/bin/sh"]),
            *[(f"copy {lib}", [*base, "copy", "check", lib, lib]) for lib in libraries],
            ("commit the shell image", [*base, "commit", "check", "localhost/stratus-shell"]),
            ("bud (with RUN)", [*base, "bud", "--isolation", "chroot", "--timestamp", "0", "-f",
                                str(root / "ctx" / "Dockerfile.run"), "-t", "localhost/check-run", str(root / "ctx")]),
        ]
        for label, command in steps:
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)  # noqa: S603
            output = (done.stdout + done.stderr).strip().splitlines()
            message = output[-1] if output else ""
            results.append((" ".join(command[7:]) or label, done.returncode == 0, message))
            log(f"{'ok  ' if done.returncode == 0 else 'FAIL'} {label}: {message}")
            if done.returncode != 0:
                break
    return results
