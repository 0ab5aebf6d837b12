"""Saving versions: numbering, idempotence, lint stored, refusals naming the field, permissions,
audit without the content; generating from a template; the allowed base images."""
import pytest

from applications.dockerfiles import diff, selectors, services
from applications.dockerfiles.templates import TemplateFormError
from applications.models import BaseImage, DockerfileVersion
from paas.actors import Actor
from paas.audit.models import AuditEvent
from paas.errors import DomainError
from paas.permissions import NotPermitted
from tests.factories import make_token

from .conftest import GOOD, SYSTEM

pytestmark = pytest.mark.django_db


def dev(personas):
    return Actor.for_user(personas["developer"])


def test_numbering_history_and_idempotence(personas, application):
    actor = dev(personas)
    v1 = services.dockerfile_save(actor=actor, application=application, content=GOOD, comment="first")
    assert (v1.number, v1.lint_status, v1.comment, v1.created_by) == (1, "ok", "first", personas["developer"])
    again = services.dockerfile_save(actor=actor, application=application, content=GOOD.replace("\n", "\r\n"))
    assert again.pk == v1.pk  # same text (line endings normalised): no new version
    v2 = services.dockerfile_save(actor=actor, application=application, content=GOOD.replace("10001", "10002"))
    v3 = services.dockerfile_save(actor=actor, application=application, content=GOOD)  # back to v1's text
    assert [v.number for v in selectors.versions_of(application)] == [3, 2, 1]
    assert v2.number == 2 and v3.content == v1.content
    events = AuditEvent.objects.filter(action="dockerfile.save", outcome="success")
    assert events.count() == 3
    after = events.order_by("id").last().changes["after"]
    assert after["number"] == 3 and after["content_sha256"].startswith("sha256:")
    assert "content" not in after and "USER" not in str(after)


def test_lint_errors_are_saved_and_block_builds(personas, application):
    version = services.dockerfile_save(actor=dev(personas), application=application,
                                       content="FROM platform/jre:17\nRUN echo hi\n")
    assert version.lint_status == "errors" and not version.buildable
    codes = {(f["line"], f["code"]) for f in version.findings}
    assert (2, "platform.run-needs-buildah") in codes and (1, "platform.user-missing") in codes
    assert set(version.findings[0]) == {"line", "severity", "code", "message", "source"}


@pytest.mark.parametrize(("content", "field"), [
    ("", "content"),
    ("   \n", "content"),
    ("FROOM platform/jre:17\n", "content"),
    ("FROM platform/jre:17\n" + "# padding\n" * 8000, "content"),
    (None, "content"),
])
def test_text_that_is_not_a_dockerfile_is_refused(personas, application, content, field):
    with pytest.raises(DomainError) as caught:
        services.dockerfile_save(actor=dev(personas), application=application, content=content)
    assert caught.value.field == field
    assert not DockerfileVersion.objects.exists()


def test_comment_is_one_short_line(personas, application):
    with pytest.raises(DomainError) as caught:
        services.dockerfile_save(actor=dev(personas), application=application, content=GOOD, comment="x" * 201)
    assert caught.value.field == "comment"


@pytest.mark.parametrize("persona", ["viewer", "auditor", "approver", "outsider"])
def test_only_who_manages_applications_saves(personas, application, persona):
    with pytest.raises(NotPermitted):
        services.dockerfile_save(actor=Actor.for_user(personas[persona]), application=application, content=GOOD)
    assert AuditEvent.objects.filter(action="dockerfile.save", outcome="denied").count() == 1
    assert not DockerfileVersion.objects.exists()


def test_a_read_token_cannot_save(personas, application, tenant):
    token, _ = make_token(personas["developer"], tenant, scope="read")
    with pytest.raises(NotPermitted):
        services.dockerfile_save(actor=Actor.for_token(token), application=application, content=GOOD)
    write, _ = make_token(personas["developer"], tenant, name="w")
    assert services.dockerfile_save(actor=Actor.for_token(write), application=application, content=GOOD).number == 1


def test_generate_saves_the_rendered_template(personas, application):
    version = services.dockerfile_generate(actor=dev(personas), application=application, stack="java",
                                           form={"jvm_options": "-Xmx1g"}, comment="from the form")
    assert version.stack == "java" and version.form["jvm_options"] == "-Xmx1g"
    assert version.form["base_image"] == "platform/jre:17" and version.lint_status == "ok"
    assert AuditEvent.objects.filter(action="dockerfile.generate", outcome="success").count() == 1
    same = services.dockerfile_generate(actor=dev(personas), application=application, stack="java",
                                        form={"jvm_options": "-Xmx1g"})
    assert same.pk == version.pk
    with pytest.raises(TemplateFormError) as caught:
        services.dockerfile_generate(actor=dev(personas), application=application, stack="java",
                                     form={"ports": [22]})
    assert "ports" in caught.value.errors


def test_a_disabled_base_image_leaves_the_list(personas, application):
    image = BaseImage.objects.get(name="platform/jre")
    services.base_image_update(actor=SYSTEM, image=image, enabled=False)
    with pytest.raises(TemplateFormError) as caught:
        services.dockerfile_generate(actor=dev(personas), application=application, stack="java", form={})
    assert "base_image" in caught.value.errors
    version = services.dockerfile_save(actor=dev(personas), application=application, content=GOOD)
    assert ("platform.base-not-allowed", "warning") in {(f["code"], f["severity"]) for f in version.findings}


def test_base_images_are_written_by_operators_only(personas, base_images):
    assert {b.reference for b in base_images} >= {"platform/jre:17", "platform/nginx:1.27"}
    assert services.base_images_ensure(actor=SYSTEM) == []  # idempotent
    with pytest.raises(NotPermitted):
        services.base_image_create(actor=Actor.for_user(personas["owner"]), name="platform/x", tag="1")
    superuser = Actor.for_user(personas["superuser"])
    image = services.base_image_create(actor=superuser, name="platform/debug", tag="1", stack="go",
                                       allowed_in_prod=False)
    assert AuditEvent.objects.filter(action="dockerfile.base_image.create", target_id=str(image.pk)).exists()
    with pytest.raises(DomainError) as caught:
        services.base_image_create(actor=superuser, name="platform/debug", tag="latest")
    assert caught.value.field == "tag"
    with pytest.raises(DomainError):
        services.base_image_create(actor=superuser, name="platform/debug", tag="1")
    services.base_image_delete(actor=superuser, image=image)
    assert AuditEvent.objects.filter(action="dockerfile.base_image.delete").exists()


def test_selectors_hide_other_tenants(personas, application, foreign_application):
    from django.http import Http404

    outsider = Actor.for_user(personas["outsider"])
    with pytest.raises(Http404):
        selectors.application_get(outsider, application.pk)
    assert selectors.application_get(outsider, foreign_application.pk) == foreign_application
    for bad in ("x", "9" * 30, None):
        with pytest.raises(Http404):
            selectors.application_get(dev(personas), bad)


def test_diff_rows_and_unified():
    before = "FROM a:1\nUSER 1\nCMD x\n"
    after = "FROM a:2\nUSER 1\nCMD x\nEXPOSE 8080\n"
    rows = diff.side_by_side(before, after)
    assert [(r.kind, r.left_line, r.right_line) for r in rows] == [
        ("replace", 1, 1), ("equal", 2, 2), ("equal", 3, 3), ("insert", None, 4)]
    assert diff.stats(rows) == {"added": 2, "removed": 1}
    text = diff.unified(before, after, from_label="v1", to_label="v2")
    assert text.startswith("--- v1\n+++ v2\n") and "-FROM a:1\n+FROM a:2\n" in text and "+EXPOSE 8080" in text
    assert diff.unified(before, before) == ""
    assert [r.kind for r in diff.side_by_side("a\nb\nc\n", "a\n")] == ["equal", "delete", "delete"]


def test_a_saved_version_is_a_live_event_for_the_tenant(personas, application, monkeypatch):
    sent = []
    monkeypatch.setattr(services.emit, "to_tenant", lambda tenant_id, payload, **kw: sent.append((tenant_id, payload,
                                                                                                  kw)))
    services.dockerfile_save(actor=dev(personas), application=application, content=GOOD)
    services.dockerfile_save(actor=dev(personas), application=application, content=GOOD)  # unchanged: no event
    assert len(sent) == 1
    tenant_id, payload, kwargs = sent[0]
    assert tenant_id == application.tenant_id and kwargs == {"permission": "view_tenant"}
    assert payload["type"] == "dockerfile.saved" and payload["number"] == 1 and payload["actor"] == "developer"
    assert payload["url"] == f"/applications/{application.pk}/dockerfile/"
