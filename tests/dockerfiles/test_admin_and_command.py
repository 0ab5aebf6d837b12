"""Operators edit the allowed base images in the Django admin (through the audited services);
Dockerfile versions are read-only there; the command fills the default allowed list."""
import pytest
from django.core.management import call_command

from applications.dockerfiles import services
from applications.models import BaseImage, DockerfileVersion
from paas.audit.models import AuditEvent

from .conftest import GOOD, SYSTEM

pytestmark = pytest.mark.django_db


def test_command_adds_the_defaults_once(capsys):
    call_command("dockerfile_base_images")
    assert BaseImage.objects.count() == 5 and "5 added" in capsys.readouterr().out
    call_command("dockerfile_base_images")
    assert BaseImage.objects.count() == 5 and "0 added" in capsys.readouterr().out


def test_admin_adds_changes_and_deletes_base_images_through_services(personas, login, base_images):
    client = login(personas["superuser"])
    assert client.get("/admin/applications/baseimage/").status_code == 200
    response = client.post("/admin/applications/baseimage/add/", {
        "name": "platform/debug", "tag": "1", "stack": "go", "description": "busybox for debugging", "digest": "",
        "allowed_in_prod": "", "enabled": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    image = BaseImage.objects.get(name="platform/debug")
    assert image.allowed_in_prod is False
    assert AuditEvent.objects.filter(action="dockerfile.base_image.create", target_id=str(image.pk)).exists()
    client.post(f"/admin/applications/baseimage/{image.pk}/change/", {
        "name": "platform/debug", "tag": "1", "stack": "go", "description": "busybox", "digest": "",
        "allowed_in_prod": "", "enabled": ""})
    image.refresh_from_db()
    assert image.enabled is False
    assert AuditEvent.objects.filter(action="dockerfile.base_image.update").exists()
    refused = client.post("/admin/applications/baseimage/add/", {
        "name": "platform/debug2", "tag": "latest", "stack": "go", "description": "", "digest": "",
        "enabled": "on"}, follow=True)
    assert "Not saved" in refused.content.decode() and not BaseImage.objects.filter(name="platform/debug2").exists()
    client.post(f"/admin/applications/baseimage/{image.pk}/delete/", {"post": "yes"})
    assert not BaseImage.objects.filter(pk=image.pk).exists()
    assert AuditEvent.objects.filter(action="dockerfile.base_image.delete").exists()


def test_dockerfile_versions_are_read_only_in_the_admin(personas, login, application):
    version = services.dockerfile_save(actor=SYSTEM, application=application, content=GOOD)
    client = login(personas["superuser"])
    assert client.get("/admin/applications/dockerfileversion/").status_code == 200
    page = client.get(f"/admin/applications/dockerfileversion/{version.pk}/change/")
    assert page.status_code == 200 and "HEALTHCHECK" in page.content.decode()
    client.post(f"/admin/applications/dockerfileversion/{version.pk}/change/", {"comment": "changed"})
    version.refresh_from_db()
    assert version.comment == ""
    assert client.post(f"/admin/applications/dockerfileversion/{version.pk}/delete/", {"post": "yes"}).status_code == 403
    assert DockerfileVersion.objects.filter(pk=version.pk).exists()
