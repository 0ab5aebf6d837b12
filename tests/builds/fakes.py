"""A stand-in builder with build_image's signature, for tests of the build task without a
registry: it logs its steps, calls the clients it is given (as the real builder does, so the
steps move), checks `cancelled()` between steps and returns a BuildResult-like object.

BUILDER = "tests.builds.fakes.fake_build_image" selects it (runner.builder_function).
Knobs (module globals, set by tests; the worker-kill test sets them through the environment):
SLEEP seconds per step, FAIL a message to raise with, CALLS records each call's kwargs.
"""
import hashlib
import os
import time
from dataclasses import dataclass

SLEEP = float(os.environ.get("FAKE_BUILDER_SLEEP", "0"))
STEPS = int(os.environ.get("FAKE_BUILDER_STEPS", "3"))
# "0": do not call the registry clients (a worker process in a test has no registry to talk to).
USE_CLIENTS = os.environ.get("FAKE_BUILDER_CLIENTS", "1") != "0"
FAIL = ""
CALLS: list[dict] = []


@dataclass
class Result:
    digest: str
    size: int
    base_digest: str
    config_digest: str
    blobs_uploaded: int
    blobs_reused: int
    provenance_digest: str
    manifest: dict


@dataclass(frozen=True)
class Ref:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def by_digest(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"


def parse(text: str) -> Ref:
    """Enough of applications.oci.references.parse for the tests (host/repo[:tag][@digest])."""
    if not text or " " in text:
        raise ValueError(f"not a reference: {text!r}")
    rest, _, digest = text.partition("@")
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = "127.0.0.1:8000", rest
    name, _, tag = path.rpartition(":") if ":" in path.rsplit("/", 1)[-1] else (path, "", "")
    return Ref(registry, name, tag or None, digest or None)


class FakeClient:
    """Records calls; answers like a registry that has every base image."""

    def __init__(self, name="target"):
        self.name = name
        self.calls = []

    def __getattr__(self, method):
        def call(*args, **kwargs):
            self.calls.append(method)
            if method in ("manifest_digest",):
                return "sha256:" + "b" * 64
            if method == "get_manifest":
                return {"schemaVersion": 2, "layers": []}
            return True
        return call


def fake_build_image(*, dockerfile, context_files, artifact, artifact_name, target, client, base_client_for, labels,
                     build_id, build_args, provenance, log, cancelled):
    CALLS.append({"target": target, "labels": labels, "build_id": build_id, "provenance": provenance,
                  "artifact": artifact, "artifact_name": artifact_name})
    log("Fetching the base image manifest and config")
    if USE_CLIENTS:
        base_client_for("127.0.0.1:8000").get_manifest("platform/jre", "17")
    for step in range(STEPS):
        cancelled()
        time.sleep(SLEEP)
        log(f"Adding layer {step + 1} of {STEPS}")
    if FAIL:
        raise RuntimeError(FAIL)
    cancelled()
    log("Pushing blobs\nand the manifest")
    if USE_CLIENTS:
        client.push_blob(target.repository, b"x", "sha256:" + "c" * 64, 1)
        client.push_manifest(target.repository, target.tag, {})
    cancelled()
    log("Pushing the provenance")
    if USE_CLIENTS:
        client.push_manifest(target.repository, None, {})
    seed = (dockerfile + (artifact_name or "") + build_id).encode()
    return Result(digest="sha256:" + hashlib.sha256(seed).hexdigest(), size=4321, base_digest="sha256:" + "b" * 64,
                  config_digest="sha256:" + "d" * 64, blobs_uploaded=2, blobs_reused=3,
                  provenance_digest="sha256:" + "e" * 64, manifest={})
