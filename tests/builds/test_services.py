"""build_start / build_cancel: refusals (lint errors listing the lines, permissions, foreign
inputs, bad tags), numbering per application, cancel of queued and running builds, audit."""
import pytest

from applications.builds import services
from applications.builds.models import Build
from applications.models import Application, DockerfileVersion
from paas.actors import Actor
from paas.audit.models import AuditEvent
from paas.errors import DomainError
from paas.permissions import NotPermitted

from .conftest import DOCKERFILE, store_artifact

pytestmark = pytest.mark.django_db


def start(user, app, dockerfile, artifact=None, tag="1.0.0", **kwargs):
    return services.build_start(actor=Actor.for_user(user), application=app, dockerfile=dockerfile,
                                artifact=artifact, tag=tag, **kwargs)


def test_start_queues_numbers_and_audits(personas, app, dockerfile, artifact, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first = start(personas["developer"], app, dockerfile, artifact)
    second = start(personas["developer"], app, dockerfile, artifact, tag="1.0.1")
    assert (first.number, second.number) == (1, 2)
    assert first.state == Build.State.QUEUED and first.repository == "acme/payments-api"
    assert first.enqueued_at is not None and first.created_by == personas["developer"]
    assert list(first.lines.values_list("number", "text")) == [
        (1, "Queued by developer: Dockerfile v1, artifact app.jar, tag 1.0.0.")]
    assert len(callbacks) >= 2  # the run is enqueued and the state pushed after commit
    event = AuditEvent.objects.filter(action="build.start").order_by("id").first()
    assert event.changes["after"]["number"] == 1 and event.changes["after"]["artifact"] == artifact.sha256
    # Numbers are per application.
    other = Application.objects.create(tenant=app.tenant, name="accounts-api")
    version = DockerfileVersion.objects.create(application=other, number=1, content=DOCKERFILE)
    assert start(personas["developer"], other, version).number == 1


def test_lint_errors_block_the_build_listing_the_lines(personas, app, bad_dockerfile):
    with pytest.raises(DomainError) as refused:
        start(personas["developer"], app, bad_dockerfile)
    assert refused.value.field == "dockerfile"
    message = refused.value.message
    assert "version 2 has lint errors" in message
    assert "line 1: Using latest is prone to errors" in message and "line 3: USER must not be root" in message
    assert "Use COPY" not in message  # a warning does not block
    assert Build.objects.count() == 0


def test_warnings_do_not_block(personas, app, dockerfile):
    dockerfile.lint_status = "warnings"
    dockerfile.save()
    assert start(personas["developer"], app, dockerfile).state == Build.State.QUEUED


@pytest.mark.parametrize("who", ["viewer", "auditor", "approver", "outsider"])
def test_who_may_not_start(personas, app, dockerfile, who):
    with pytest.raises(NotPermitted):
        start(personas[who], app, dockerfile)
    assert AuditEvent.objects.filter(action="build.start", outcome="denied").count() == 1


def test_foreign_inputs_and_bad_tags(personas, app, dockerfile, other_tenant):
    other = Application.objects.create(tenant=other_tenant, name="ledger")
    foreign_version = DockerfileVersion.objects.create(application=other, number=1, content=DOCKERFILE)
    foreign_artifact = store_artifact(other)
    dev = personas["developer"]
    for kwargs, field in [({"dockerfile": foreign_version}, "dockerfile"),
                          ({"artifact": foreign_artifact}, "artifact"),
                          ({"tag": ".hidden"}, "tag"), ({"tag": "a" * 129}, "tag"), ({"tag": "x y"}, "tag"),
                          ({"registry": "nope"}, "registry"), ({"build_args": {"A": 1}}, "build_args")]:
        args = {"dockerfile": dockerfile, "artifact": None, "tag": "1", **kwargs}
        with pytest.raises(DomainError) as refused:
            services.build_start(actor=Actor.for_user(dev), application=app, **args)
        assert refused.value.field == field, kwargs


def test_cancel_a_queued_build_at_once(personas, app, dockerfile):
    build = start(personas["developer"], app, dockerfile)
    cancelled = services.build_cancel(actor=Actor.for_user(personas["owner"]), build=build)
    assert cancelled.state == Build.State.CANCELLED and cancelled.finished_at is not None
    assert cancelled.lines.last().text == "Cancelled by owner."
    # Idempotent: nothing changes, nothing more is recorded.
    again = services.build_cancel(actor=Actor.for_user(personas["owner"]), build=cancelled)
    assert again.state == Build.State.CANCELLED
    assert AuditEvent.objects.filter(action="build.cancel", outcome="success").count() == 1


def test_cancel_a_running_build_asks_it_to_stop(personas, app, dockerfile):
    build = start(personas["developer"], app, dockerfile)
    Build.objects.filter(pk=build.pk).update(state=Build.State.RUNNING)
    build.refresh_from_db()
    asked = services.build_cancel(actor=Actor.for_user(personas["developer"]), build=build)
    assert asked.state == Build.State.RUNNING and asked.cancel_requested
    assert "stopping at the next step" in asked.lines.last().text


def test_viewer_cannot_cancel(personas, app, dockerfile):
    build = start(personas["developer"], app, dockerfile)
    with pytest.raises(NotPermitted):
        services.build_cancel(actor=Actor.for_user(personas["viewer"]), build=build)
    build.refresh_from_db()
    assert build.state == Build.State.QUEUED


def test_external_registries_the_build_may_push_to(personas, app, dockerfile, other_tenant):
    from applications.registry.services import external_registry_create

    system = Actor.for_system("tests")
    own = external_registry_create(actor=system, tenant=app.tenant, name="harbor", url="https://harbor.example")
    platform = external_registry_create(actor=system, tenant=None, name="shared", url="https://shared.example")
    foreign = external_registry_create(actor=system, tenant=other_tenant, name="theirs", url="https://x.example")
    dev = personas["developer"]
    assert start(dev, app, dockerfile, registry=str(own.pk)).registry == str(own.pk)
    assert start(dev, app, dockerfile, registry=str(platform.pk)).registry == str(platform.pk)
    for bad in (str(foreign.pk), "999999", "x", "1" * 30):
        with pytest.raises(DomainError) as refused:
            start(dev, app, dockerfile, registry=bad)
        assert refused.value.field == "registry"
    event = AuditEvent.objects.filter(action="build.start").order_by("id").first()
    assert event.changes["after"]["registry"] == "harbor.example"
