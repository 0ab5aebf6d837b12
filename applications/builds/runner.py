"""One run of a build, in a worker: claim it, build and push the image, record the outcome.

The builder itself is applications.oci (settings.BUILDER: "native", the daemonless
builder; "buildah"; or a dotted path to a function with the same signature). This module
gives it what the platform knows: the inputs, registry clients, the provenance record, a
`log` that appends numbered lines, and a `cancelled` check that stops the run when a
cancel is requested, the time limit passes, or the reaper has already given up on it.

A heartbeat thread touches the build every BUILD_HEARTBEAT_SECONDS while the builder works
(a large push can be silent for minutes), so the reaper can tell a slow build from one
whose worker was killed.
"""
import hashlib
import logging
import socket
import threading
import time
from datetime import UTC

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string

from paas.errors import DomainError

from . import progress, registry_access, storage
from .models import Build

logger = logging.getLogger(__name__)
Step = Build.Step


# A run that no longer owns its build (the reaper gave up on it, another worker took it over):
# it stops without writing anything more.
SUPERSEDED = "superseded"


class StopBuild(Exception):  # noqa: N818 - a signal, not an error
    """Raised from `cancelled()` inside the builder: the run must end now."""

    def __init__(self, state: str, message: str):
        super().__init__(message)
        self.state = state
        self.message = message


# --- which builder ------------------------------------------------------------------

def builder_function():
    """(callable, name, version) for settings.BUILDER."""
    kind = settings.BUILDER
    if kind == "native":
        from applications.oci import builder

        return builder.build_image, "native", _version(builder)
    if kind == "buildah":
        from applications.oci import buildah

        return buildah.build_image, "buildah", _version(buildah)
    function = import_string(kind)
    return function, kind.rsplit(".", 1)[-1][:12], str(getattr(function, "version", "1"))


def _version(module) -> str:
    for name in ("BUILDER_VERSION", "VERSION", "__version__"):
        if getattr(module, name, None):
            return str(getattr(module, name))
    try:
        from applications import oci

        return str(getattr(oci, "__version__", "1"))
    except ImportError:
        return "1"


# --- the run's controls ---------------------------------------------------------------

class Control:
    """log / cancelled / step for one run, plus the heartbeat thread."""

    def __init__(self, build: Build, *, basic_auth: bool = False):
        self.build_id = build.pk
        self.attempt = build.attempts  # this run; another attempt means the build is no longer ours
        self.credentials = registry_access.Credentials(build, basic=basic_auth)
        self.deadline = time.monotonic() + settings.BUILD_TIME_LIMIT_SECONDS
        self.limit = settings.BUILD_TIME_LIMIT_SECONDS
        self.step = build.step
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        interval = settings.BUILD_HEARTBEAT_SECONDS
        if interval > 0:
            self._thread = threading.Thread(target=self._beat, args=(interval,), daemon=True,
                                            name=f"build-{self.build_id}-heartbeat")
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.credentials.close()
        return False

    def _beat(self, interval: float) -> None:
        try:
            while not self._stop.wait(interval):
                try:
                    progress.heartbeat(self.build_id, self.attempt)
                except Exception as exc:  # the database away for a moment: the next beat tries again
                    logger.warning("build %s heartbeat failed: %s", self.build_id, exc.__class__.__name__)
        finally:
            connection.close()  # this thread's own connection

    def log(self, text: str) -> None:
        progress.append_log(self.build_id, text, attempt=self.attempt)
        lowered = str(text).lower()
        if "layer" in lowered and self.step in (Step.PREPARE, Step.BASE, ""):
            self.set_step(Step.LAYERS)

    def set_step(self, step: str) -> None:
        steps = progress.STEPS
        if self.step in steps and steps.index(step) <= steps.index(self.step):
            return
        self.step = step
        progress.set_step(self.build_id, step, attempt=self.attempt)

    def check(self) -> None:
        """Raise StopBuild if the run must end (cancel, time limit, finished elsewhere)."""
        if time.monotonic() > self.deadline:
            raise StopBuild(Build.State.FAILED, f"Time limit of {self.limit} s exceeded.")
        row = progress.heartbeat(self.build_id, self.attempt)
        if row is None:
            raise StopBuild(SUPERSEDED, "The build was deleted.")
        cancel_requested, state, attempts = row
        if state != Build.State.RUNNING or attempts != self.attempt:
            raise StopBuild(SUPERSEDED, "The build was ended or taken over elsewhere.")
        if cancel_requested:
            raise StopBuild(Build.State.CANCELLED, "Cancelled.")

    def cancelled(self) -> bool:
        # Raising (not returning True) ends the run the same way whatever the builder does with the answer.
        self.check()
        return False


class _Watched:
    """A registry client whose calls move the build's step forward (the builder's own log lines
    are words for people, not a protocol)."""

    def __init__(self, client, control: Control, role: str):
        self._client, self._control, self._role = client, control, role
        self._manifests = 0

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            self._control.check()
            if self._role == "base":
                self._control.set_step(Step.BASE)
            elif name in ("head_blob", "push_blob", "push_manifest"):
                self._control.set_step(Step.PUSH)
            result = attribute(*args, **kwargs)
            if self._role == "target" and name == "push_manifest":
                self._manifests += 1
                if self._manifests == 1:  # the image is pushed; what follows is its provenance
                    self._control.set_step(Step.PROVENANCE)
            return result

        return call


# --- inputs and provenance -----------------------------------------------------------

def parse_reference(text: str):
    """An ImageRef (applications.oci.references); ValueError when it is not a valid reference."""
    from applications.oci import references

    return references.parse(text)


def base_images(content: str, build_args: dict) -> list:
    """The FROM images of a Dockerfile (ImageRef), ARGs before FROM substituted."""
    import io

    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(fileobj=io.BytesIO(content.encode()), build_args=build_args or {})
    refs = []
    for image in parser.parent_images:
        if image and image.lower() != "scratch":
            try:
                refs.append(parse_reference(image))
            except ValueError:
                continue  # the builder reports a bad FROM in words
    return refs


def inputs_label(build: Build, content_sha: str) -> str:
    """The build id the image itself carries (label io.stratus.build.id): the id of the first
    build of this application with the same inputs. A rebuild of the same inputs then gives the
    same image digest (reproducible) while the label still names a real build; the provenance
    names the build that actually ran. Digits only: it also goes into buildah's local tag."""
    same = (Build.objects.filter(application_id=build.application_id, artifact_id=build.artifact_id,
                                 repository=build.repository, registry=build.registry, number__lt=build.number)
            .order_by("number").select_related("dockerfile"))
    for earlier in same:
        if earlier.build_args == build.build_args and \
                hashlib.sha256(earlier.dockerfile.content.encode()).hexdigest() == content_sha:
            return str(earlier.pk)
    return str(build.pk)


def provenance_of(build: Build, *, content_sha: str, base_ref: str, builder: tuple[str, str]) -> dict:
    """The inputs record the builder pushes next to the image (applications.oci.builder adds the
    subject, its own id and version, the base image's digest it resolved, the Dockerfile's
    SHA-256 and the new layers; keys are camelCase as there)."""
    artifact = build.artifact
    return {
        "_type": "https://stratus.example/provenance/v1",
        "artifact": ({"name": artifact.filename, "sha256": artifact.sha256, "size": artifact.size}
                     if artifact else None),
        "dockerfile": {"version": build.dockerfile.number, "sha256": content_sha},
        "dockerfileVersion": build.dockerfile.number,
        "base": {"name": base_ref or "scratch", "digest": ""},
        "builder": {"id": builder[0], "version": builder[1]},
        "build": {"id": build.pk, "number": build.number, "tenant": build.tenant.slug,
                  "application": build.application.name, "repository": build.repository, "tag": build.tag},
        "startedBy": build.created_by.get_username() if build.created_by else "",
        "startedAt": build.started_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


def recorded_provenance(result, provenance: dict) -> dict:
    """What was pushed (the builder's final record) when it says so, else ours with the base digest."""
    pushed = getattr(result, "provenance", None)
    if isinstance(pushed, dict) and pushed:
        record = dict(pushed)
        record.setdefault("dockerfileVersion", provenance["dockerfileVersion"])
        return record
    record = {**provenance, "base": dict(provenance["base"])}
    record["base"]["digest"] = record["base"]["digest"] or getattr(result, "base_digest", "") or ""
    return record


# --- the run ---------------------------------------------------------------------------

def run(build_id: int) -> str:
    """Run a build once; returns its final state (or "skipped" when it must not run here)."""
    try:
        function, name, version = builder_function()
    except Exception as exc:  # a misconfigured BUILDER fails the build in words, not the worker
        function, name, version = None, str(settings.BUILDER)[:12], "?"
        problem = f"The builder {settings.BUILDER!r} is not available: {exc}"
    else:
        problem = ""
    build = progress.claim(build_id, worker=socket.gethostname(), builder=f"{name} {version}")
    if build is None:
        return "skipped"
    if problem:
        progress.finish(build.pk, Build.State.FAILED, error=problem, line=problem)
        return Build.State.FAILED
    with Control(build, basic_auth=name == "buildah") as control:
        return _execute(build, control, function, (name, version))


def _execute(build: Build, control: Control, function, builder: tuple[str, str]) -> str:
    try:
        result, provenance = _build(build, control, function, builder)
    except StopBuild as stop:
        if stop.state not in Build.FINISHED:
            logger.info("build %s: run %s stops: %s", build.pk, control.attempt, stop.message)
            return SUPERSEDED
        progress.finish(build.pk, stop.state, attempt=control.attempt, line=stop.message,
                        error=stop.message if stop.state == Build.State.FAILED else "")
        return stop.state
    except Exception as exc:  # noqa: BLE001 - every failure ends the build in words, never stuck running
        message = _describe(exc)
        if not isinstance(exc, DomainError | ValueError | OSError) and not _EXPECTED.intersection(
                cls.__name__ for cls in type(exc).__mro__):
            logger.exception("build %s failed", build.pk)
        progress.finish(build.pk, Build.State.FAILED, attempt=control.attempt, error=message,
                        line=f"Build failed: {message}")
        return Build.State.FAILED
    base_digest = getattr(result, "base_digest", "") or ""
    provenance = recorded_provenance(result, provenance)
    done = progress.finish(
        build.pk, Build.State.SUCCEEDED, attempt=control.attempt, step=Step.PROVENANCE,
        line=f"Build #{build.number} succeeded: {registry_access.target_host(build)}/{build.repository}"
             f"@{result.digest}, {result.size} bytes.",
        image_digest=result.digest, image_size=result.size, base_image_digest=base_digest,
        blobs_uploaded=result.blobs_uploaded, blobs_reused=result.blobs_reused, provenance=provenance,
        provenance_digest=getattr(result, "provenance_digest", "") or "")
    return done.state if done is not None else Build.State.SUCCEEDED


# Builder and registry errors (and their subclasses) whose message is the explanation: no traceback logged.
_EXPECTED = {"RegistryError", "UnsupportedInstruction", "BuildError", "DockerfileError", "BuildahError",
             "SoftTimeLimitExceeded"}


def _describe(exc: Exception) -> str:
    if exc.__class__.__name__ == "SoftTimeLimitExceeded":
        return f"Time limit of {settings.BUILD_TIME_LIMIT_SECONDS} s exceeded."
    text = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
    return str(text)[:2000]


def _build(build: Build, control: Control, function, builder):
    dockerfile = build.dockerfile.content
    content_sha = hashlib.sha256(dockerfile.encode()).hexdigest()
    artifact_path = None
    artifact = build.artifact
    if artifact is not None:
        artifact_path = storage.path_of(artifact)
        control.log(f"Checking artifact {artifact.filename} ({artifact.size} bytes, sha256:{artifact.sha256}).")
        if not artifact_path.is_file() or storage.file_sha256(artifact_path) != artifact.sha256:
            raise DomainError(f"The stored artifact {artifact.filename} is missing or no longer has its SHA-256.")
    control.check()
    bases = base_images(dockerfile, build.build_args)
    base_ref = bases[-1].by_digest() if bases and bases[-1].digest else (
        _ref_text(bases[-1]) if bases else "")
    provenance = provenance_of(build, content_sha=content_sha, base_ref=base_ref, builder=builder)
    target_text = f"{registry_access.target_host(build)}/{build.repository}:{build.tag}"
    target = parse_reference(target_text)
    client, base_client_for = registry_access.clients_for(build, bases, control.credentials)
    control.log(f"Building {target_text} from Dockerfile v{build.dockerfile.number} on "
                f"{base_ref or 'scratch'} with the {builder[0]} builder (version {builder[1]}).")
    watched_target = _Watched(client, control, "target")
    base_clients = {}

    def watched_base_for(host):
        if host not in base_clients:
            base_clients[host] = _Watched(base_client_for(host), control, "base")
        return base_clients[host]

    application = build.application
    labels = {"org.opencontainers.image.title": application.name,
              "org.opencontainers.image.vendor": build.tenant.name}
    if application.repository_url:
        labels["org.opencontainers.image.source"] = application.repository_url
    result = function(
        dockerfile=dockerfile, context_files={}, artifact=artifact_path,
        artifact_name=artifact.filename if artifact else None, target=target, client=watched_target,
        base_client_for=watched_base_for, labels=labels, build_id=inputs_label(build, content_sha),
        build_args=dict(build.build_args or {}), provenance=provenance, log=control.log,
        cancelled=control.cancelled)
    return result, provenance


def _ref_text(ref) -> str:
    tag = f":{ref.tag}" if getattr(ref, "tag", None) else ""
    return f"{ref.registry}/{ref.repository}{tag}"
