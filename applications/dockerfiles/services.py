"""Every write to Dockerfile versions and to the platform's allowed base images.

Saving lints first (hadolint runs outside the transaction: no row is locked while it runs),
refuses a text that is not a Dockerfile at all (400 naming `content`), then, under a lock on
the application's row, numbers the version after the latest one. Saving the text the latest
version already has returns that version: no new number, no audit event. Lint errors do not
stop a save (the version is kept, marked "errors"); they stop a build.

Versions are linted with the rules of the environment kind given (dev by default, where a base
image outside the allowed list is a warning): the versions of an application feed builds for
every environment. Who takes an image to prod lints with environment_kind="prod" (lint.py).
"""
import hashlib

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from applications.models import Application, BaseImage, DockerfileVersion, Stack
from paas.actors import Actor
from paas.audit.services import audit_record, diff
from paas.errors import Conflict, DomainError
from paas.permissions import authorize, authorize_platform
from paas.realtime import emit

from . import lint, parse, templates

MAX_COMMENT = 200


def _check_content(content) -> str:
    if not isinstance(content, str):
        raise DomainError(_("The Dockerfile text is required."), field="content")
    text = parse.normalise(content)
    if not text.strip():
        raise DomainError(_("The Dockerfile is empty."), field="content")
    if len(text.encode("utf-8", "surrogatepass")) > parse.MAX_BYTES:
        raise DomainError(_("The Dockerfile is larger than %(n)s KiB.") % {"n": parse.MAX_BYTES // 1024},
                          field="content")
    return text


def _check_comment(comment) -> str:
    comment = (comment or "").strip() if isinstance(comment, str) else None
    if comment is None or len(comment) > MAX_COMMENT or any(c in comment for c in "\n\r\x00"):
        raise DomainError(_("One line of at most %(n)s characters.") % {"n": MAX_COMMENT}, field="comment")
    return comment


def content_hash(content: str) -> str:
    return "sha256:" + hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()


def _summary(version: DockerfileVersion) -> dict:
    """What the audit trail keeps of a version: never the whole text, its hash instead."""
    counts = lint.counts_of(version.findings)
    return {"number": version.number, "lint_status": version.lint_status, "errors": counts["error"],
            "warnings": counts["warning"], "content_sha256": content_hash(version.content),
            "lines": version.content.count("\n"), "stack": version.stack, "comment": version.comment}


def _notify(actor: Actor, version: DockerfileVersion) -> None:
    application = version.application
    emit.to_tenant(application.tenant_id, {
        "type": "dockerfile.saved", "tenant": application.tenant.slug, "application": application.pk,
        "name": application.name, "number": version.number, "lint_status": version.lint_status,
        "actor": emit.actor_name(actor), "url": reverse("dockerfiles:editor", kwargs={"app_id": application.pk})},
        permission="view_tenant")


def dockerfile_save(*, actor: Actor, application: Application, content, comment="", stack="", form=None,
                    environment_kind: str = "dev") -> DockerfileVersion:
    """Save `content` as the application's next Dockerfile version (or return the latest if unchanged)."""
    return _save(actor=actor, application=application, content=content, comment=comment, stack=stack, form=form,
                 environment_kind=environment_kind, action="dockerfile.save")


def dockerfile_generate(*, actor: Actor, application: Application, stack: str, form, comment="",
                        environment_kind: str = "dev") -> DockerfileVersion:
    """Render a stack template with the form's values and save the result as a version."""
    authorize(actor, "manage_applications", application, action="dockerfile.generate")
    clean = templates.validate(stack, form)
    content = templates.render(stack, clean)
    return _save(actor=actor, application=application, content=content, comment=comment, stack=stack, form=clean,
                 environment_kind=environment_kind, action="dockerfile.generate")


def _save(*, actor, application, content, comment, stack, form, environment_kind, action) -> DockerfileVersion:
    authorize(actor, "manage_applications", application, action=action)
    text = _check_content(content)
    comment = _check_comment(comment)
    if stack not in ("", *Stack.values):
        raise DomainError(_("Choose one of %(list)s.") % {"list": ", ".join(Stack.values)}, field="stack")
    if environment_kind not in lint.ENVIRONMENT_KINDS:
        raise DomainError(_("Unknown environment kind."), field="environment_kind")
    findings = lint.lint(text, environment_kind=environment_kind)
    broken = lint.unparsable(findings)
    if broken:
        raise DomainError(_("The Dockerfile does not parse: line %(line)s: %(message)s")
                          % {"line": broken[0].line, "message": broken[0].message}, field="content")
    with transaction.atomic():
        # The application's row is the lock: two saves at once get consecutive numbers.
        locked = Application.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=application.pk)
        latest = locked.dockerfiles.order_by("-number").first()
        if latest is not None and latest.content == text:
            return latest
        version = DockerfileVersion.objects.create(
            application=locked, number=(latest.number + 1) if latest else 1, content=text, stack=stack,
            form=form if stack and isinstance(form, dict) else {}, findings=[f.as_dict() for f in findings],
            lint_status=lint.status_of(findings), comment=comment, created_by=actor.user)
        audit_record(actor=actor, action=action, target=version, tenant=locked.tenant, after=_summary(version))
        _notify(actor, version)
    return version


# --- the allowed base images (platform operators) ----------------------------------------------

BASE_IMAGE_FIELDS = ("name", "tag", "stack", "description", "digest", "allowed_in_prod", "enabled")


def _base_image_fields(image: BaseImage) -> dict:
    return {f: getattr(image, f) for f in BASE_IMAGE_FIELDS}


def _check_base_image(image: BaseImage) -> None:
    from django.core.exceptions import ValidationError

    try:
        image.full_clean(exclude=["created_at", "updated_at"], validate_unique=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(messages[0], field=field) from None
    name, tag, _digest = lint.split_reference(f"{image.name}:{image.tag}")
    if (name, tag) != (image.name, image.tag) or not tag or "@" in image.name or tag == "latest":
        raise DomainError(_("A repository and a fixed tag (not latest), e.g. platform/jre and 17."), field="tag")
    duplicate = BaseImage.objects.filter(name=image.name, tag=image.tag).exclude(pk=image.pk)
    if duplicate.exists():
        raise Conflict(_("%(ref)s is already on the list.") % {"ref": image.reference}, field="name")


def base_image_create(*, actor: Actor, **fields) -> BaseImage:
    authorize_platform(actor, "applications.add_baseimage", ("applications.baseimage", "", "base image"),
                       action="dockerfile.base_image.create")
    image = BaseImage(**{k: v for k, v in fields.items() if k in BASE_IMAGE_FIELDS})
    with transaction.atomic():
        _check_base_image(image)
        image.save()
        audit_record(actor=actor, action="dockerfile.base_image.create", target=image,
                     after=_base_image_fields(image))
    return image


def base_image_update(*, actor: Actor, image: BaseImage, **changes) -> BaseImage:
    authorize_platform(actor, "applications.change_baseimage", image, action="dockerfile.base_image.update")
    with transaction.atomic():
        image = BaseImage.objects.select_for_update().get(pk=image.pk)
        before = _base_image_fields(image)
        for key, value in changes.items():
            if key in BASE_IMAGE_FIELDS:
                setattr(image, key, value)
        if _base_image_fields(image) == before:
            return image
        _check_base_image(image)
        image.save()
        old, new = diff(before, _base_image_fields(image))
        audit_record(actor=actor, action="dockerfile.base_image.update", target=image, before=old, after=new)
    return image


def base_image_delete(*, actor: Actor, image: BaseImage) -> None:
    authorize_platform(actor, "applications.delete_baseimage", image, action="dockerfile.base_image.delete")
    with transaction.atomic():
        before = _base_image_fields(image)
        audit_record(actor=actor, action="dockerfile.base_image.delete", target=image, before=before)
        image.delete()


def base_images_ensure(*, actor: Actor) -> list[BaseImage]:
    """Put the default base images (templates.default_base_images) on the list if missing.

    Entries already there are left as operators set them (disabled stays disabled). Returns
    the entries created."""
    created = []
    for entry in templates.default_base_images():
        if not BaseImage.objects.filter(name=entry["name"], tag=entry["tag"]).exists():
            created.append(base_image_create(actor=actor, **entry))
    return created
