"""The Dockerfile pages: the editor with its findings, save, lint without saving, generate with a
preview, history, one version, diff; read-only for viewers, 404 for other tenants."""
import pytest

from applications.dockerfiles import services
from applications.models import DockerfileVersion
from paas.actors import Actor

from .conftest import GOOD

pytestmark = pytest.mark.django_db


@pytest.fixture
def saved(personas, application):
    actor = Actor.for_user(personas["developer"])
    services.dockerfile_save(actor=actor, application=application, content=GOOD, comment="first")
    return services.dockerfile_save(actor=actor, application=application,
                                    content=GOOD.replace("USER 10001\n", "RUN echo hi\nUSER 10001\n"),
                                    comment="needs buildah")


def url(application, tail=""):
    return f"/applications/{application.pk}/dockerfile/{tail}"


def test_editor_shows_the_latest_version_and_its_findings(personas, login, application, saved):
    html = login(personas["developer"]).get(url(application)).content.decode()
    assert 'data-editor="dockerfile"' in html and "RUN echo hi" in html
    assert "Errors block a build; warnings are shown but allowed." in html
    assert 'data-jump-line="3"' in html and "RUN needs the buildah builder" in html
    assert "codemirror.bundle.js" in html and "dockerfile-editor.js" in html
    assert "needs buildah" in html and "v2" in html  # recent versions


def test_save_from_the_editor(personas, login, application, saved):
    client = login(personas["developer"])
    response = client.post(url(application), {"content": GOOD, "comment": "fixed"})
    assert response.status_code == 302 and response["Location"] == url(application)
    latest = DockerfileVersion.objects.filter(application=application).order_by("-number").first()
    assert (latest.number, latest.comment, latest.lint_status) == (3, "fixed", "ok")
    unchanged = client.post(url(application), {"content": GOOD, "comment": "again"}, follow=True)
    assert "Nothing changed" in unchanged.content.decode()
    assert DockerfileVersion.objects.filter(application=application).count() == 3


def test_a_text_that_does_not_parse_stays_in_the_form(personas, login, application):
    response = login(personas["developer"]).post(url(application), {"content": "FROOM x\n", "comment": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert "does not parse" in html and "FROOM x" in html and "Unknown instruction FROOM" in html
    assert not DockerfileVersion.objects.exists()


def test_lint_button_answers_a_fragment_and_saves_nothing(personas, login, application):
    response = login(personas["developer"]).post(url(application, "lint/"), {
        "content": "FROM platform/jre:latest\nUSER root\n", "environment_kind": "prod"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith("<section id=\"lint-results\"")
    assert "DL3007" in html and "platform.user-root" in html and "not saved" in html
    assert not DockerfileVersion.objects.exists()


def test_generate_previews_then_saves(personas, login, application):
    client = login(personas["developer"])
    page = client.get(url(application, "generate/?stack=go")).content.decode()
    assert "platform/distroless-static:1" in page and "GOMAXPROCS" in page
    form = {"stack": "go", "base_image": "platform/distroless-static:1", "artifact": "payments", "ports": "8080",
            "gomaxprocs": "2", "gomemlimit": "", "gogc": "", "user": "10001", "health_kind": "none",
            "health_interval": "30", "env": "LOG_LEVEL=info", "comment": "from the form"}
    preview = client.post(url(application, "generate/"), {**form, "action": "preview"})
    html = preview.content.decode()
    assert "Generated Dockerfile (not saved yet)" in html and "ENTRYPOINT [&quot;/app/payments&quot;]" in html
    assert not DockerfileVersion.objects.exists()
    saved = client.post(url(application, "generate/"), {**form, "action": "save"})
    assert saved.status_code == 302
    version = DockerfileVersion.objects.get(application=application)
    assert version.stack == "go" and version.form["gomaxprocs"] == 2 and 'LOG_LEVEL="info"' in version.content


def test_generate_names_the_bad_fields(personas, login, application):
    response = login(personas["developer"]).post(url(application, "generate/"), {
        "stack": "java", "base_image": "platform/jre:17", "artifact": "app.war", "ports": "80", "user": "root",
        "health_kind": "http", "health_path": "/", "health_interval": "30", "jvm_options": "", "action": "preview"})
    html = response.content.decode()
    assert response.status_code == 200 and "ends with .jar" in html and "privileged" in html
    assert "must not run as root" in html


def test_edit_before_saving_fills_the_editor(personas, login, application):
    response = login(personas["developer"]).post(url(application), {"draft": "1", "content": GOOD,
                                                                    "comment": "draft"})
    assert response.status_code == 200 and "HEALTHCHECK" in response.content.decode()
    assert not DockerfileVersion.objects.exists()


def test_history_version_and_diff(personas, login, application, saved):
    client = login(personas["viewer"])
    history = client.get(url(application, "history/")).content.decode()
    assert "v1" in history and "v2" in history and "needs buildah" in history
    version = client.get(url(application, "versions/2/")).content.decode()
    assert 'id="L3"' in version and "line-error" in version and "RUN needs the buildah builder" in version
    diff = client.get(url(application, "diff/?from=1&to=2"))
    html = diff.content.decode()
    assert diff.context["stats"] == {"added": 1, "removed": 0}
    assert 'class="diff-insert"' in html and "+RUN echo hi" in html
    assert client.get(url(application, "diff/")).context["left"].number == 1  # latest against the one before
    assert client.get(url(application, "versions/9/")).status_code == 404


def test_viewers_read_only(personas, login, application, saved):
    client = login(personas["viewer"])
    html = client.get(url(application)).content.decode()
    assert "Read-only" in html and 'data-editor="dockerfile"' not in html and "RUN echo hi" in html
    assert "Generate from a template" not in html
    assert client.get(url(application, "generate/")).status_code == 403
    assert client.post(url(application), {"content": GOOD}).status_code == 403
    assert client.post(url(application, "lint/"), {"content": GOOD}).status_code == 403
    assert DockerfileVersion.objects.filter(application=application).count() == 2


@pytest.mark.parametrize("tail", ["", "generate/", "history/", "versions/1/", "diff/"])
def test_other_tenants_get_404(personas, login, application, saved, tail):
    assert login(personas["outsider"]).get(url(application, tail)).status_code == 404


def test_empty_states(personas, login, application):
    client = login(personas["viewer"])
    assert "No Dockerfile yet" in client.get(url(application)).content.decode()
    assert client.get(url(application, "diff/")).status_code == 200
    assert "Start from a stack template" in login(personas["developer"]).get(url(application)).content.decode()
