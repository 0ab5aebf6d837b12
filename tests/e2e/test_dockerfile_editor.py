"""The Dockerfile editor in a real browser: CodeMirror with line numbers and no CSP violation,
the saved version's findings marked in the gutter at their lines, a finding in the list jumps
to its line, "Lint" marks what was typed without saving, and "Save" keeps the typed text."""
import pytest
from playwright.sync_api import expect

from applications.dockerfiles import services
from applications.models import Application, DockerfileVersion
from paas.actors import Actor

from .conftest import SCREENSHOT_DIR
from .test_csp import Watch

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

WITH_RUN = ("FROM platform/jre:17\nCOPY app.jar /app/app.jar\nRUN chmod +x /app\nUSER 10001\n"
            'HEALTHCHECK CMD ["curl", "-f", "http://127.0.0.1:8080/"]\nENTRYPOINT ["java", "-jar", "/app/app.jar"]\n')


@pytest.fixture
def application(transactional_db, tenant):
    system = Actor.for_system("e2e")
    services.base_images_ensure(actor=system)
    app = Application.objects.create(tenant=tenant, name="payments-api", stack="java")
    services.dockerfile_save(actor=system, application=app, content=WITH_RUN, comment="with RUN")
    return app


def editor_text(page) -> str:
    return page.evaluate("window.paasDockerfileEditor.state.doc.toString()")


def cursor_line(page) -> int:
    return page.evaluate("(v => v.state.doc.lineAt(v.state.selection.main.head).number)(window.paasDockerfileEditor)")


def test_edit_lint_and_save(b, personas_e2e, application):
    page = b.new_page()
    watch = Watch(page)
    b.login(page, personas_e2e["developer"])
    watch.visit(f"/applications/{application.pk}/dockerfile/")
    expect(page.locator("body[data-editors-ready=true]")).to_have_count(1)
    shell = page.locator("[data-editor-for=content]")
    expect(shell.locator(".cm-lineNumbers")).to_have_count(1)
    expect(page.locator("textarea[name=content]")).to_be_hidden()
    # The stored findings: the RUN line (3) is marked as an error, in the gutter and the text.
    expect(shell.locator(".cm-gutter-lint .cm-lint-marker-error")).to_have_count(1)
    expect(shell.locator(".cm-line", has_text="RUN chmod").locator(".cm-lintRange-error")).to_have_count(1)
    expect(page.locator("#lint-results")).to_contain_text("Errors block a build")
    # A finding in the list moves the cursor to its line.
    page.locator("#lint-results [data-jump-line='3']").first.click()
    assert cursor_line(page) == 3
    page.wait_for_timeout(200)
    watch.assert_clean()

    # Type another text and lint it: hadolint's and the platform's findings, nothing saved.
    shell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text("FROM ubuntu:latest\nUSER root\n")
    page.locator("#lint-environment-kind").select_option("prod")
    page.locator("[data-testid=lint-button]").click()
    expect(page.locator("#lint-results")).to_contain_text("DL3007")
    expect(page.locator("#lint-results")).to_contain_text("not saved")
    expect(shell.locator(".cm-gutter-lint .cm-lint-marker-error")).to_have_count(2)  # lines 1 and 2
    assert DockerfileVersion.objects.filter(application=application).count() == 1
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "dockerfile-editor-lint.png"), full_page=True)

    # Save what was typed, with a comment: version 2 holds exactly that text.
    page.locator("#id_comment").fill("try ubuntu")
    page.locator("#dockerfile-form button[type=submit]").click()
    page.wait_for_load_state("load")
    expect(page.locator("body[data-editors-ready=true]")).to_have_count(1)
    expect(page.locator(".alert")).to_contain_text("Saved as version 2")
    latest = DockerfileVersion.objects.get(application=application, number=2)
    assert latest.content == "FROM ubuntu:latest\nUSER root\n" and latest.comment == "try ubuntu"
    assert editor_text(page) == latest.content
    expect(page.locator("#live-dockerfile-history")).to_contain_text("try ubuntu")
    watch.assert_clean()


def test_generate_preview_and_diff(b, personas_e2e, application):
    page = b.new_page()
    watch = Watch(page)
    b.login(page, personas_e2e["developer"])
    watch.visit(f"/applications/{application.pk}/dockerfile/generate/?stack=java")
    page.locator("#id_jvm_options").fill("-XX:MaxRAMPercentage=60.0")
    page.locator("#id_env").fill("LOG_LEVEL=info")
    page.locator("button[name=action][value=preview]").click()
    page.wait_for_load_state("load")
    expect(page.locator("main")).to_contain_text("Generated Dockerfile (not saved yet)")
    expect(page.locator(".dockerfile-code")).to_contain_text('JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=60.0"')
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "dockerfile-generate.png"), full_page=True)
    page.locator("button[name=action][value=save]").click()
    page.wait_for_load_state("load")
    expect(page.locator(".alert")).to_contain_text("Generated and saved as version 2")
    watch.visit(f"/applications/{application.pk}/dockerfile/diff/?from=1&to=2")
    expect(page.locator(".diff-table tr.diff-insert").first).to_be_visible()
    page.locator("details summary").click()
    expect(page.locator("[data-testid=unified-diff]")).to_contain_text("-RUN chmod +x /app")
    page.screenshot(path=str(SCREENSHOT_DIR / "dockerfile-diff.png"), full_page=True)
    page.wait_for_timeout(150)
    watch.assert_clean()
