"""Writes of the builds app: artifact uploads, starting and cancelling builds.

Each service checks the permission first (manage_applications on the application's tenant),
changes rows in one transaction and records its audit event there. Uploads are
authorized before a byte of the body is read, so a caller who may not upload cannot make
the server write a gigabyte to disk either.
"""
import hashlib
import re
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application, DockerfileVersion
from paas.actors import Actor
from paas.audit.services import audit_record
from paas.errors import DomainError
from paas.permissions import authorize

from . import progress
from .models import Artifact, Build
from .storage import CHUNK, HashingWriter, clean_checksum, clean_filename, too_large

# OCI distribution spec: a tag.
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
MAX_BUILD_ARGS = 50


def _user(actor: Actor):
    return actor.user if actor.user is not None and actor.user.is_authenticated else None


# --- artifacts -------------------------------------------------------------------

def artifact_authorize_upload(actor: Actor, application: Application) -> None:
    """Refuse (403, audited) before the body is read."""
    authorize(actor, "manage_applications", application.tenant, action="artifact.upload")


def artifact_upload(*, actor: Actor, application: Application, filename: str, read: Callable[[int], bytes],
                    content_length: int | None = None, expected_sha256: str = "") -> tuple[Artifact, bool]:
    """Stream a raw body (`read(n)`, e.g. request.read) to the artifact store.

    Returns (artifact, created): the same bytes under the same name for the same
    application are the artifact already stored, not a second one."""
    artifact_authorize_upload(actor, application)
    name = clean_filename(filename)
    expected = clean_checksum(expected_sha256)
    limit = settings.BUILD_ARTIFACT_MAX_BYTES
    if content_length is not None and content_length > limit:
        raise too_large(limit)  # refused before reading: the declared size is already too much
    writer = HashingWriter(limit)
    try:
        while chunk := read(CHUNK):
            writer.write(chunk)
    except BaseException:
        writer.discard()
        raise
    return artifact_record_upload(actor=actor, application=application, filename=name, writer=writer,
                                  expected_sha256=expected)


def artifact_record_upload(*, actor: Actor, application: Application, filename: str, writer: HashingWriter,
                           expected_sha256: str = "") -> tuple[Artifact, bool]:
    """Check a fully written upload (empty? corrupt?), store it by its digest and record it."""
    artifact_authorize_upload(actor, application)
    try:
        name = clean_filename(filename)
        expected = clean_checksum(expected_sha256)
        if writer.size == 0:
            raise DomainError(_("file: the file is empty."), field="file", code="empty")
        if expected and expected != writer.sha256:
            raise DomainError(_("file: corrupt upload: its SHA-256 is %(got)s, the expected checksum is "
                                "%(want)s.") % {"got": writer.sha256, "want": expected},
                              field="file", code="corrupt_upload")
    except DomainError:
        writer.discard()
        raise
    relative = writer.store()
    with transaction.atomic():
        existing = Artifact.objects.filter(application=application, sha256=writer.sha256, filename=name).first()
        if existing is not None:
            return existing, False
        artifact = Artifact.objects.create(tenant=application.tenant, application=application, filename=name,
                                           size=writer.size, sha256=writer.sha256, path=relative,
                                           uploaded_by=_user(actor))
        audit_record(actor=actor, action="artifact.upload", target=artifact,
                     after={"application": application.name, "filename": name, "size": writer.size,
                            "sha256": writer.sha256})
    return artifact, True


# --- builds ----------------------------------------------------------------------

def _lint_errors(dockerfile: DockerfileVersion) -> str:
    lines = []
    for finding in dockerfile.findings or []:
        if isinstance(finding, dict) and finding.get("severity") == "error":
            where = _("line %(n)s") % {"n": finding.get("line")} if finding.get("line") else _("file")
            lines.append(f"{where}: {finding.get('message', '')}".strip())
    return "; ".join(lines[:20]) or _("see the Dockerfile's lint results")


def _check_inputs(application, dockerfile, artifact, tag, registry, build_args) -> None:
    if dockerfile is None or dockerfile.application_id != application.pk:
        raise DomainError(_("dockerfile: no such Dockerfile version of this application."), field="dockerfile")
    if dockerfile.lint_status == DockerfileVersion.LintStatus.ERRORS:
        raise DomainError(_("dockerfile: version %(n)s has lint errors and cannot be built: %(errors)s")
                          % {"n": dockerfile.number, "errors": _lint_errors(dockerfile)}, field="dockerfile")
    if artifact is not None and artifact.application_id != application.pk:
        raise DomainError(_("artifact: no such artifact of this application."), field="artifact")
    if not isinstance(tag, str) or not TAG.match(tag):
        raise DomainError(_("tag: use 1-128 letters, digits, '_', '.' and '-', not starting with '.' or '-'."),
                          field="tag")
    if not isinstance(build_args, dict) or len(build_args) > MAX_BUILD_ARGS or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 200 and len(v) <= 4000
            for k, v in build_args.items()):
        raise DomainError(_("build_args: give at most %(n)s names with text values.") % {"n": MAX_BUILD_ARGS},
                          field="build_args")


def _external_registry(application: Application, registry: str):
    """The external registry a build may push to: the tenant's own or a platform-wide one, by id."""
    from applications.registry.models import ExternalRegistry

    found = None
    if str(registry).isdigit() and len(str(registry)) < 19:
        found = ExternalRegistry.objects.filter(Q(tenant=application.tenant) | Q(tenant__isnull=True),
                                                pk=int(registry)).first()
    if found is None:
        raise DomainError(_("registry: no such registry (give an external registry's id, or nothing for the "
                            "built-in one)."), field="registry")
    return found


def build_start(*, actor: Actor, application: Application, dockerfile: DockerfileVersion | None,
                artifact: Artifact | None, tag: str, registry: str = "", build_args: dict | None = None) -> Build:
    """Queue a build of `dockerfile` with `artifact`, to be pushed as <tenant>/<application>:<tag> to the
    built-in registry (`registry` "") or an external registry (its id)."""
    authorize(actor, "manage_applications", application.tenant, action="build.start")
    build_args = {} if build_args is None else build_args
    _check_inputs(application, dockerfile, artifact, tag, registry, build_args)
    external = _external_registry(application, registry) if registry else None
    registry = str(external.pk) if external else ""
    with transaction.atomic():
        # Numbers per application: the application's row lock serialises concurrent starts.
        Application.objects.select_for_update().filter(pk=application.pk).first()
        number = (Build.objects.filter(application=application).aggregate(n=Max("number"))["n"] or 0) + 1
        build = Build.objects.create(
            tenant=application.tenant, application=application, number=number, dockerfile=dockerfile,
            artifact=artifact, registry=registry, repository=application.repository, tag=tag,
            build_args=build_args, created_by=_user(actor), enqueued_at=timezone.now())
        audit_record(actor=actor, action="build.start", target=build, after={
            "number": number, "dockerfile": dockerfile.number,
            "dockerfile_sha256": hashlib.sha256(dockerfile.content.encode()).hexdigest(),
            "artifact": artifact.sha256 if artifact else None, "repository": build.repository, "tag": tag,
            "registry": external.host if external else "built-in"})
        inputs = f"Dockerfile v{dockerfile.number}" + (f", artifact {artifact.filename}" if artifact else "")
        progress.write_lines(build, f"Queued by {actor.label}: {inputs}, tag {tag}.")
        build.save(update_fields=["log_lines"])
        progress.emit_state(build)
        progress.send(build)
    return build


def build_cancel(*, actor: Actor, build: Build) -> Build:
    """Cancel a build: a queued one at once; a running one stops at its next step. A finished
    build, or one already asked to stop, is left as it is."""
    authorize(actor, "manage_applications", build.tenant, action="build.cancel")
    with transaction.atomic():
        build = Build.objects.select_for_update().get(pk=build.pk)
        if build.finished or build.cancel_requested:
            return build
        before = {"state": build.state}
        build.cancel_requested = True
        if build.state == Build.State.QUEUED:
            build.state = Build.State.CANCELLED
            build.finished_at = timezone.now()
            progress.write_lines(build, f"Cancelled by {actor.label}.")
        else:
            progress.write_lines(build, f"Cancel requested by {actor.label}; stopping at the next step.")
        build.save(update_fields=["cancel_requested", "state", "finished_at", "log_lines"])
        audit_record(actor=actor, action="build.cancel", target=build, before=before,
                     after={"state": build.state, "cancel_requested": True, "number": build.number})
        progress.emit_state(build)
    return build
