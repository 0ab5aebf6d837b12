"""Build pages: who may open and use them, the start form (Dockerfile versions with their lint
status, artifacts, errors next to the field), the detail page with its numbered log, steps and
provenance, cancel, and the strict Content-Security-Policy on each."""
import re

import pytest
from django.test import Client

from applications.builds import runner, services
from applications.builds.models import Build
from paas.actors import Actor
from tests.test_csp import assert_strict

pytestmark = pytest.mark.django_db

PERSONAS = ["owner", "admin", "developer", "approver", "viewer", "auditor", "operator", "outsider"]
READERS = {p: (404 if p == "outsider" else 200) for p in PERSONAS}
BUILDERS = {p: (200 if p in ("owner", "admin", "developer") else 404 if p == "outsider" else 403) for p in PERSONAS}


@pytest.fixture
def build(personas, app, dockerfile, artifact):
    return services.build_start(actor=Actor.for_user(personas["developer"]), application=app, dockerfile=dockerfile,
                                artifact=artifact, tag="1.0.0")


def pages(app):
    base = f"/applications/{app.pk}/builds/"
    return {"list": (base, READERS), "start": (base + "new/", BUILDERS), "detail": (base + "1/", READERS)}


@pytest.mark.parametrize("persona", PERSONAS)
def test_page_matrix(personas, login, app, build, persona):
    client = login(personas[persona])
    for name, (url, expected) in pages(app).items():
        response = client.get(url)
        assert response.status_code == expected[persona], (name, persona)
        if persona == "outsider":
            assert "acme" not in response.content.decode().lower().replace(url, "")
        if response.status_code == 200:
            assert_strict(response)


def test_anonymous_goes_to_sign_in(app, build):
    for url, _expected in pages(app).values():
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_list_shows_builds_with_state_and_is_live(personas, login, app, build, fake_registry):
    runner.run(build.pk)
    html = login(personas["viewer"]).get(f"/applications/{app.pk}/builds/").content.decode()
    build.refresh_from_db()
    assert "#1" in html and 'data-build-state="succeeded"' in html and build.image_digest[:19] in html
    assert 'data-live-types="build.state"' in html and 'hx-trigger="live-refresh"' in html
    assert "New build" not in html  # viewers cannot start builds


def test_start_form_lists_versions_with_lint_status(personas, login, app, dockerfile, bad_dockerfile, artifact):
    html = login(personas["developer"]).get(f"/applications/{app.pk}/builds/new/").content.decode()
    assert "v1 — lint clean" in html and "v2 — lint errors: cannot be built" in html
    assert "app.jar" in html and 'id="artifact-upload-form"' in html and "js/artifact-upload.js" in html
    assert re.search(r'<option value="1" selected>', html)  # a buildable version is preselected


def test_start_form_starts_a_build(personas, login, app, dockerfile, artifact):
    response = login(personas["developer"]).post(f"/applications/{app.pk}/builds/new/",
                                                 {"dockerfile": 1, "artifact": artifact.pk, "tag": "3.1"})
    build = Build.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/applications/{app.pk}/builds/1/"
    assert build.tag == "3.1" and build.artifact == artifact


def test_start_form_shows_lint_refusal_next_to_the_field(personas, login, app, dockerfile, bad_dockerfile):
    response = login(personas["developer"]).post(f"/applications/{app.pk}/builds/new/",
                                                 {"dockerfile": 2, "artifact": "", "tag": "3.1"})
    assert response.status_code == 200
    assert "line 3: USER must not be root" in response.content.decode()
    assert response.context["form"].errors["dockerfile"]
    assert Build.objects.count() == 0


def test_start_form_refused_for_viewers_on_post(personas, login, app, dockerfile):
    response = login(personas["viewer"]).post(f"/applications/{app.pk}/builds/new/", {"dockerfile": 1, "tag": "1"})
    assert response.status_code == 403 and Build.objects.count() == 0


def test_detail_shows_log_steps_and_provenance(personas, login, app, build, fake_registry):
    runner.run(build.pk)
    build.refresh_from_db()
    response = login(personas["viewer"]).get(f"/applications/{app.pk}/builds/1/")
    html = response.content.decode()
    numbers = [int(n) for n in re.findall(r'class="build-log-line" data-n="(\d+)"', html)]
    assert numbers == list(range(1, build.log_lines + 1))
    assert f'data-last="{build.log_lines}"' in html and 'data-finished="true"' in html
    assert f'data-log-url="/api/v1/applications/{app.pk}/builds/1/log/"' in html and "js/build-log.js" in html
    assert html.count('data-status="done"') == 5
    assert 'data-testid="provenance"' in html and "&quot;sha256&quot;" in html
    assert build.image_digest in html
    assert 'data-testid="cancel-build"' not in html


def test_detail_escapes_log_text(personas, login, app, build):
    from applications.builds import progress

    progress.append_log(build.pk, "<script>alert(1)</script>")
    html = login(personas["viewer"]).get(f"/applications/{app.pk}/builds/1/").content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_cancel_button_and_post(personas, login, app, build):
    client = login(personas["developer"])
    assert 'data-testid="cancel-build"' in client.get(f"/applications/{app.pk}/builds/1/").content.decode()
    viewer = login(personas["viewer"])
    assert 'data-testid="cancel-build"' not in viewer.get(f"/applications/{app.pk}/builds/1/").content.decode()
    assert viewer.post(f"/applications/{app.pk}/builds/1/cancel/").status_code == 403
    assert login(personas["outsider"]).post(f"/applications/{app.pk}/builds/1/cancel/").status_code == 404
    response = client.post(f"/applications/{app.pk}/builds/1/cancel/")
    assert response.status_code == 302
    build.refresh_from_db()
    assert build.state == Build.State.CANCELLED


def test_post_only_pages_answer_get_with_the_405_page(personas, login, app, build):
    client = login(personas["developer"])
    for url in (f"/applications/{app.pk}/builds/1/cancel/", f"/applications/{app.pk}/builds/artifacts/upload/"):
        response = client.get(url)
        assert response.status_code == 405 and "This action needs its form" in response.content.decode()


def test_missing_objects_are_404(personas, login, app):
    client = login(personas["developer"])
    assert client.get(f"/applications/{app.pk}/builds/9/").status_code == 404
    assert client.get("/applications/999999/builds/").status_code == 404


def test_start_form_offers_the_tenants_external_registries(personas, login, app, dockerfile, other_tenant):
    from applications.registry.services import external_registry_create

    system = Actor.for_system("tests")
    own = external_registry_create(actor=system, tenant=app.tenant, name="harbor", url="https://harbor.example")
    external_registry_create(actor=system, tenant=other_tenant, name="theirs", url="https://theirs.example")
    client = login(personas["developer"])
    html = client.get(f"/applications/{app.pk}/builds/new/").content.decode()
    assert "Built-in registry (127.0.0.1:8000)" in html and "harbor (harbor.example)" in html
    assert "theirs" not in html
    response = client.post(f"/applications/{app.pk}/builds/new/",
                           {"dockerfile": 1, "artifact": "", "registry": str(own.pk), "tag": "1"})
    assert response.status_code == 302 and Build.objects.get().registry == str(own.pk)
