"""Build pages of an application: the list, the start form (with the artifact upload), the
detail page with its live numbered log, and cancel. Thin: selectors read (another tenant's
application is a 404), services write (a denied change is a 403, audited)."""
import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from applications import selectors as application_selectors
from paas.actors import Actor
from paas.errors import DomainError
from paas.permissions import can
from tenants.context_processors import SESSION_KEY
from tenants.views._common import ensure, paginate, tenant_context

from . import registry_access, selectors, services
from .forms import ArtifactUploadForm, BuildStartForm
from .models import Build
from .storage import ArtifactTooLarge
from .uploads import FIELD, HashingUploadHandler

LOG_LINES_ON_PAGE = 2000


def _scope(request, app_id):
    actor = Actor.from_request(request)
    application = application_selectors.application_get(actor, app_id)
    if request.session.get(SESSION_KEY) != application.tenant.slug:
        request.session[SESSION_KEY] = application.tenant.slug
    return actor, application


def _context(actor, application, **extra) -> dict:
    context = tenant_context(actor, application.tenant, "applications")
    context.update({"application": application,
                    "can_build": can(actor, "manage_applications", application.tenant), **extra})
    return context


@login_required
def build_list(request, app_id):
    actor, application = _scope(request, app_id)
    builds = selectors.builds_visible_to(actor).filter(application=application).order_by("-number")
    return render(request, "builds/list.html", _context(actor, application, page_obj=paginate(request, builds)))


def _start_form(actor, application, data=None, initial=None):
    artifacts = selectors.artifacts_visible_to(actor).filter(application=application).order_by("-created_at")[:50]
    return BuildStartForm(data, initial=initial or {}, dockerfiles=selectors.dockerfiles_of(application),
                          artifacts=artifacts, registries=selectors.registries_for(actor, application),
                          builtin_host=registry_access.builtin_host())


@login_required
def build_start(request, app_id):
    actor, application = _scope(request, app_id)
    ensure(request, actor, "manage_applications", application.tenant, action="build.start")
    initial = {"artifact": request.GET.get("artifact")} if request.GET.get("artifact", "").isdigit() else {}
    form = _start_form(actor, application, request.POST or None, initial)
    if request.method == "POST" and form.is_valid():
        artifact = None
        if form.cleaned_data["artifact"] is not None:
            artifact = selectors.artifacts_visible_to(actor).filter(
                application=application, pk=form.cleaned_data["artifact"]).first()
        try:
            build = services.build_start(actor=actor, application=application, dockerfile=form.dockerfile_version(),
                                         artifact=artifact, tag=form.cleaned_data["tag"],
                                         registry=form.cleaned_data["registry"])
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Build #%(n)s is queued.") % {"n": build.number})
            return redirect("builds:detail", app_id=application.pk, number=build.number)
    return render(request, "builds/start.html", _context(
        actor, application, form=form, upload_form=ArtifactUploadForm(),
        max_bytes=settings.BUILD_ARTIFACT_MAX_BYTES, max_size=filesizeformat(settings.BUILD_ARTIFACT_MAX_BYTES)))


# --- artifact upload (multipart, streamed through HashingUploadHandler) ------------------

def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _upload_answer(request, application, *, artifact=None, created=False, error=None, status=200):
    start = reverse("builds:start", kwargs={"app_id": application.pk})
    if _wants_json(request):
        if error is not None:
            return JsonResponse({"error": {"message": error.message, "field": error.field or "file"}},
                                status=error.status_code)
        return JsonResponse({"id": artifact.pk, "filename": artifact.filename, "size": artifact.size,
                             "sha256": artifact.sha256, "created": created,
                             "label": f"{artifact.filename} · {filesizeformat(artifact.size)} · "
                                      f"sha256:{artifact.sha256[:12]}"}, status=201 if created else 200)
    if error is not None:
        messages.error(request, error.message)
        return redirect(start)
    messages.success(request, _("Uploaded %(name)s (%(size)s, SHA-256 %(sha)s).") % {
        "name": artifact.filename, "size": filesizeformat(artifact.size), "sha": artifact.sha256})
    return redirect(f"{start}?artifact={artifact.pk}")


@csrf_exempt  # checked below, after the upload handler is in place (Django's documented pattern)
@require_POST
@login_required
def artifact_upload(request, app_id):
    actor, application = _scope(request, app_id)
    # Before the body is parsed: a caller who may not upload gets a 403 without a byte stored.
    services.artifact_authorize_upload(actor, application)
    handler = HashingUploadHandler(request, limit=settings.BUILD_ARTIFACT_MAX_BYTES)
    request.upload_handlers = [handler]
    try:
        return _store_upload(request, actor, application, handler)
    finally:
        handler.discard()  # nothing left behind unless it was stored


@csrf_protect
def _store_upload(request, actor, application, handler):
    upload = request.FILES.get(FIELD)
    try:
        if handler.too_large is not None:
            raise handler.too_large
        if upload is None:
            raise DomainError(_("file: choose a file to upload."), field="file")
        artifact, created = services.artifact_record_upload(
            actor=actor, application=application, filename=upload.name, writer=upload.writer,
            expected_sha256=request.POST.get("checksum", ""))
    except (DomainError, ArtifactTooLarge) as exc:
        return _upload_answer(request, application, error=exc)
    return _upload_answer(request, application, artifact=artifact, created=created)


# --- detail, cancel -----------------------------------------------------------------------

def _steps(build: Build) -> list[dict]:
    """Each step with where the build is: done / current / failed / pending."""
    order = [value for value, _label in Build.Step.choices]
    current = order.index(build.step) if build.step in order else -1
    rows = []
    for index, (value, label) in enumerate(Build.Step.choices):
        if build.state == Build.State.SUCCEEDED or index < current:
            status = "done"
        elif index == current:
            status = {Build.State.RUNNING: "current", Build.State.FAILED: "failed",
                      Build.State.CANCELLED: "stopped"}.get(build.state, "pending")
        else:
            status = "pending"
        rows.append({"value": value, "label": label, "status": status})
    return rows


@login_required
def build_detail(request, app_id, number):
    actor, application = _scope(request, app_id)
    build = selectors.build_get(actor, application, number)
    lines = list(selectors.log_lines(build, after=0, limit=LOG_LINES_ON_PAGE))
    can_cancel = can(actor, "manage_applications", application.tenant) and not build.finished \
        and not build.cancel_requested
    return render(request, "builds/detail.html", _context(
        actor, application, build=build, lines=lines, last_line=lines[-1].number if lines else 0,
        steps=_steps(build), can_cancel=can_cancel, image_host=registry_access.image_host(build),
        provenance_json=json.dumps(build.provenance, indent=2, sort_keys=True) if build.provenance else "",
        log_api=reverse("api:build-log", kwargs={"app_id": application.pk, "number": build.number})))


@require_POST
@login_required
def build_cancel(request, app_id, number):
    actor, application = _scope(request, app_id)
    build = selectors.build_get(actor, application, number)
    build = services.build_cancel(actor=actor, build=build)
    if build.state == Build.State.CANCELLED:
        messages.success(request, _("Build #%(n)s is cancelled.") % {"n": build.number})
    elif build.cancel_requested and not build.finished:
        messages.info(request, _("Build #%(n)s stops at its next step.") % {"n": build.number})
    return redirect("builds:detail", app_id=application.pk, number=build.number)
