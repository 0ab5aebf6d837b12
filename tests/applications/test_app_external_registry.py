"""Revisions resolve images of external registries with the login the platform holds for them,
against a real docker-registry asking for HTTP Basic or Bearer logins (extregistry.py): the tag
becomes its digest; a missing tag, a wrong or missing login and a registry that does not answer
are 400s naming components[i].image, never 500s. And whose logins go into an instance's pull
secret (applications.pull_secrets)."""
import pytest

from applications import pull_secrets, services
from applications.registry.services import (
    external_registry_create,
    external_registry_delete,
    external_registry_update,
)

from .conftest import COMPONENT, SYSTEM, env
from .extregistry import PULLER, external  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _app(tenant, image: str, name: str = "ext-api"):
    application = services.application_create(actor=SYSTEM, tenant=tenant, name=name, team="payments")
    services.component_create(actor=SYSTEM, application=application, data={**COMPONENT, "image": image})
    return application


def _post_revision(login, personas, application, environment="test"):
    return login(personas["developer"]).post(f"/api/v1/applications/{application.pk}/revisions/",
                                             {"environment": environment}, content_type="application/json")


def _error(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]


def test_a_revision_pins_the_external_tag_to_its_digest(external, tenant, registry, cells, personas, login):  # noqa: F811
    digest = external.push("acme/ext-api", "1.0")
    external.register(tenant)
    application = _app(tenant, f"{external.host}/acme/ext-api:1.0")
    revision = services.revision_create(actor=SYSTEM, application=application, environment=env(tenant, "test"))
    assert revision.spec["components"][0]["image"] == f"{external.host}/acme/ext-api@{digest}"

    # Through the API too, as a developer; a tag pushed since resolves to the new digest.
    newer = external.push("acme/ext-api", "1.0", label="newer")
    response = _post_revision(login, personas, application, "dev")
    assert response.status_code == 201, response.content
    assert response.json()["spec"]["components"][0]["image"] == f"{external.host}/acme/ext-api@{newer}"


def test_a_missing_tag_is_a_400_naming_the_image(external, tenant, registry, cells, personas, login):  # noqa: F811
    external.push("acme/ext-api", "1.0")
    external.register(tenant)
    for name, image in (("tag-missing", f"{external.host}/acme/ext-api:2.0"),
                        ("repo-missing", f"{external.host}/acme/never-pushed:1")):
        application = _app(tenant, image, name=name)
        error = _error(_post_revision(login, personas, application))
        assert list(error["fields"]) == ["components[0].image"] and error["code"] == "image_not_found"
        assert f"{image} was not found in registry {external.host}" in error["message"]


def test_a_wrong_or_missing_login_is_a_clear_400(external, tenant, registry, cells, personas, login):  # noqa: F811
    external.push("acme/ext-api", "1.0")
    application = _app(tenant, f"{external.host}/acme/ext-api:1.0")

    error = _error(_post_revision(login, personas, application))  # no entry for the host: asked anonymously
    assert list(error["fields"]) == ["components[0].image"] and error["code"] == "registry_denied"
    assert f"registry {external.host} asks for a login" in error["message"]

    entry = external.register(tenant, password="not-the-password")
    error = _error(_post_revision(login, personas, application))
    assert list(error["fields"]) == ["components[0].image"] and error["code"] == "registry_denied"
    assert f"registry {external.host} refused the login the platform holds for it" in error["message"]
    assert "not-the-password" not in str(error)

    external_registry_update(actor=SYSTEM, registry=entry, password=PULLER[1])
    assert _post_revision(login, personas, application).status_code == 201


def test_a_platform_wide_entry_serves_every_tenant(external, tenant, registry, cells):  # noqa: F811
    digest = external.push("shared/base", "1")
    platform = external_registry_create(actor=SYSTEM, tenant=None, name="shared", url=external.url,
                                        username=PULLER[0], password=PULLER[1], insecure=True)
    application = _app(tenant, f"{external.host}/shared/base:1")
    revision = services.revision_create(actor=SYSTEM, application=application, environment=env(tenant, "test"))
    assert revision.spec["components"][0]["image"].endswith(f"@{digest}")
    external_registry_delete(actor=SYSTEM, registry=platform)


def test_a_registry_that_does_not_answer_is_a_400(tenant, registry, cells, personas, login):
    from applications.oci.localregistry import free_port

    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    error = _error(_post_revision(login, personas, _app(tenant, f"{host}/acme/ext-api:1.0")))
    assert list(error["fields"]) == ["components[0].image"] and error["code"] == "registry_unreachable"
    assert f"registry {host} cannot be reached" in error["message"]


# --- whose logins go into the pull secret (no registry needed) -----------------------------------

def test_the_pull_secret_has_a_login_per_registry_host(tenant, other_tenant, registry, cells, settings):
    from applications.registry.auth import pull_credentials

    harbor = external_registry_create(actor=SYSTEM, tenant=tenant, name="harbor", url="https://harbor.example",
                                      username="robot$acme", password="harbor-pw")
    external_registry_create(actor=SYSTEM, tenant=None, name="harbor", url="https://harbor.example",
                             username="robot$platform", password="platform-pw")
    external_registry_create(actor=SYSTEM, tenant=None, name="mirror", url="https://mirror.example:5000",
                             username="mirror", password="mirror-pw")
    external_registry_create(actor=SYSTEM, tenant=other_tenant, name="theirs", url="https://theirs.example",
                             username="globex", password="globex-pw")
    external_registry_create(actor=SYSTEM, tenant=tenant, name="public", url="https://public.example")
    registry.push("acme/payments-api", "1.0")
    application = _app(tenant, "acme/payments-api:1.0")
    instance = services.instance_create(actor=SYSTEM, application=application, environment=env(tenant, "test"))
    digest = "@sha256:" + "a" * 64
    pinned = [f"{settings.REGISTRY_HOST}/acme/payments-api{digest}", f"harbor.example/acme/api{digest}",
              f"harbor.example/acme/worker{digest}", f"mirror.example:5000/base/jre{digest}",
              f"theirs.example/globex/x{digest}", f"public.example/library/nginx{digest}"]
    assert pull_secrets.auths_for_instance(instance, pinned) == {
        settings.REGISTRY_HOST: pull_credentials(tenant),  # the tenant's pull-only login of the built-in registry
        "harbor.example": ("robot$acme", "harbor-pw"),  # the tenant's own entry before the platform's
        "mirror.example:5000": ("mirror", "mirror-pw"),  # a platform-wide entry
        # theirs.example: another tenant's entry is not this tenant's; public.example: no login held
    }
    assert pull_secrets.auths_for_instance(instance, [f"harbor.example/acme/api{digest}"]) == {
        "harbor.example": ("robot$acme", "harbor-pw")}
    external_registry_delete(actor=SYSTEM, registry=harbor)
    assert pull_secrets.auths_for_instance(instance, [f"harbor.example/acme/api{digest}"]) == {
        "harbor.example": ("robot$platform", "platform-pw")}
