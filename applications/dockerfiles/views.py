"""Dockerfile pages of an application: the editor (latest version, lint findings inline, save
with a comment), lint without saving (an htmx fragment), generate from a stack template (with a
preview), the history, one version, and the diff between two versions.

Thin: selectors read (another tenant's application is a 404), services write (a denied change
is a 403, recorded). Who may not change the application (viewers, auditors, approvers) sees
the same pages read-only: the text with its findings next to the lines, no forms.
"""
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from paas.actors import Actor
from paas.errors import DomainError
from paas.permissions import can
from tenants.context_processors import SESSION_KEY
from tenants.views._common import ensure, paginate, tenant_context

from . import diff, lint, selectors, services, templates
from .forms import LintForm, SaveForm, TemplateForm
from .templates import TemplateFormError

HISTORY_ON_EDITOR = 8


def _load(request, app_id):
    actor = Actor.from_request(request)
    application = selectors.application_get(actor, app_id)
    if request.session.get(SESSION_KEY) != application.tenant.slug:
        request.session[SESSION_KEY] = application.tenant.slug
    return actor, application


def _context(actor, application, tab: str, **extra) -> dict:
    context = tenant_context(actor, application.tenant, "applications")
    context.update({"application": application, "dockerfile_tab": tab,
                    "can_manage": can(actor, "manage_applications", application), **extra})
    return context


def findings_context(findings) -> dict:
    """What _findings.html shows: the list, counts, status and the JSON the editor marks lines from."""
    items = [f if isinstance(f, dict) else f.as_dict() for f in findings]
    return {"findings": items, "counts": lint.counts_of(items), "lint_status": lint.status_of(items),
            "findings_json": json.dumps(items)}


def numbered_lines(content: str, findings) -> list[dict]:
    """The text line by line, each with the findings about it (read-only views)."""
    by_line: dict[int, list] = {}
    for f in findings:
        by_line.setdefault(f["line"], []).append(f)
    rows = [{"number": n, "text": text, "findings": by_line.get(n, [])}
            for n, text in enumerate(content.split("\n")[:-1] if content.endswith("\n") else content.split("\n"),
                                     start=1)]
    worst = {"error": 0, "warning": 1, "info": 2}
    for row in rows:
        row["severity"] = min((f["severity"] for f in row["findings"]), key=worst.get, default="")
    return rows


@login_required
def editor(request, app_id):
    """GET: the latest version in the editor. POST: save the text as the next version."""
    actor, application = _load(request, app_id)
    latest = selectors.latest_version(application)
    findings = latest.findings if latest else []
    if request.method == "POST":
        ensure(request, actor, "manage_applications", application, action="dockerfile.save")
        form = SaveForm(request.POST)
        if "draft" in request.POST:  # the template page's "edit before saving": fill the editor, save nothing
            form = SaveForm(initial={"content": request.POST.get("content", ""),
                                     "comment": request.POST.get("comment", "")})
            findings = [f.as_dict() for f in lint.lint(request.POST.get("content", ""))]
        elif form.is_valid():
            content = form.cleaned_data["content"]
            try:
                version = services.dockerfile_save(actor=actor, application=application, content=content,
                                                   comment=form.cleaned_data["comment"])
            except DomainError as exc:
                form.add_domain_error(exc)
                findings = [f.as_dict() for f in lint.lint(content)]
            else:
                if latest is not None and version.pk == latest.pk:
                    messages.info(request, _("Nothing changed: version %(n)s is the latest.") % {"n": version.number})
                else:
                    messages.success(request, _("Saved as version %(n)s.") % {"n": version.number})
                return redirect("dockerfiles:editor", app_id=application.pk)
    else:
        form = SaveForm(initial={"content": latest.content if latest else ""})
    context = _context(actor, application, "editor", form=form, latest=latest,
                       history=selectors.versions_of(application)[:HISTORY_ON_EDITOR],
                       environment_kinds=lint.ENVIRONMENT_KINDS, **findings_context(findings))
    if latest is not None and not context["can_manage"]:
        context["lines"] = numbered_lines(latest.content, latest.findings)
    return render(request, "dockerfiles/editor.html", context)


@login_required
@require_POST
def lint_fragment(request, app_id):
    """Lint the editor's text without saving: the findings fragment (htmx swaps it in)."""
    actor, application = _load(request, app_id)
    ensure(request, actor, "manage_applications", application, action="dockerfile.lint")
    form = LintForm(request.POST)
    if form.is_valid():
        findings = lint.lint(form.cleaned_data["content"], environment_kind=form.cleaned_data["environment_kind"]
                             or "dev")
    else:
        findings = [lint.Finding(1, "error", "platform.too-large", _("The Dockerfile is larger than 64 KiB."),
                                 "platform")]
    context = {"application": application, "linted": True, **findings_context(findings)}
    return render(request, "dockerfiles/_findings.html", context)


@login_required
def generate(request, app_id):
    """The stack template form; "Preview" shows the text and its findings, "Save" saves it."""
    actor, application = _load(request, app_id)
    ensure(request, actor, "manage_applications", application, action="dockerfile.generate")
    stack = request.POST.get("stack") or request.GET.get("stack") or application.stack
    if stack not in templates.STACKS:
        stack = "java"
    images = templates.base_images_for(stack)
    form = TemplateForm(request.POST or None, stack=stack, base_images=images)
    preview, findings = "", []
    if request.method == "POST" and form.is_valid():
        values = form.template_values()
        try:
            if request.POST.get("action") == "save":
                version = services.dockerfile_generate(actor=actor, application=application, stack=stack,
                                                       form=values, comment=form.cleaned_data["comment"])
                messages.success(request, _("Generated and saved as version %(n)s.") % {"n": version.number})
                return redirect("dockerfiles:editor", app_id=application.pk)
            preview = templates.render(stack, values)
            findings = [f.as_dict() for f in lint.lint(preview)]
        except TemplateFormError as exc:
            form.add_template_errors(exc.errors)
        except DomainError as exc:
            form.add_error(None, exc.message)
    context = _context(actor, application, "generate", form=form, stack=stack,
                       stacks=[(s, templates.SPECS[s].label) for s in templates.STACKS], preview=preview,
                       preview_lines=numbered_lines(preview, findings) if preview else [],
                       **findings_context(findings))
    return render(request, "dockerfiles/generate.html", context)


@login_required
def history(request, app_id):
    actor, application = _load(request, app_id)
    context = _context(actor, application, "history", page_obj=paginate(request, selectors.versions_of(application)),
                       compact=request.GET.get("compact") == "1")  # the editor's side column refreshing live
    return render(request, "dockerfiles/history.html", context)


@login_required
def version_detail(request, app_id, number):
    actor, application = _load(request, app_id)
    version = selectors.version_get(application, number)
    context = _context(actor, application, "history", version=version,
                       lines=numbered_lines(version.content, version.findings), **findings_context(version.findings))
    return render(request, "dockerfiles/version.html", context)


def _number(value, default):
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10 else default


@login_required
def diff_page(request, app_id):
    """Two versions side by side (and unified); ?from=N&to=M, by default the latest against the one before."""
    actor, application = _load(request, app_id)
    versions = list(selectors.versions_of(application).defer("content", "findings", "form"))
    context = _context(actor, application, "diff", versions=versions)
    if len(versions) >= 1:
        newest = versions[0].number
        to = _number(request.GET.get("to"), newest)
        older = _number(request.GET.get("from"), versions[1].number if len(versions) > 1 else newest)
        left, right = selectors.version_get(application, older), selectors.version_get(application, to)
        rows = diff.side_by_side(left.content, right.content)
        context.update(left=left, right=right, rows=rows, stats=diff.stats(rows),
                       unified=diff.unified(left.content, right.content, from_label=f"v{left.number}",
                                            to_label=f"v{right.number}"))
    return render(request, "dockerfiles/diff.html", context)
