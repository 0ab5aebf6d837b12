"""Dockerfile fixtures: the default base images on the allowed list and an application of acme
(created with the ORM: the applications services are built elsewhere)."""
import pytest

from applications.dockerfiles import lint, templates
from applications.dockerfiles.services import base_images_ensure
from applications.models import Application
from paas.actors import Actor

SYSTEM = Actor.for_system("tests")
ALLOWED = [lint.AllowedImage(d["name"], d["tag"]) for d in templates.default_base_images()]
IMAGES = {d["stack"]: [f"{d['name']}:{d['tag']}"] for d in templates.default_base_images()}

GOOD = """FROM platform/jre:17
COPY app.jar /app/app.jar
USER 10001
HEALTHCHECK CMD ["curl", "-f", "http://127.0.0.1:8080/"]
ENTRYPOINT ["java", "-jar", "/app/app.jar"]
"""


@pytest.fixture
def base_images(db):
    return base_images_ensure(actor=SYSTEM)


@pytest.fixture
def application(tenant, base_images):
    return Application.objects.create(tenant=tenant, name="payments-api", stack="java")


@pytest.fixture
def foreign_application(other_tenant, base_images):
    return Application.objects.create(tenant=other_tenant, name="ledger", stack="go")
