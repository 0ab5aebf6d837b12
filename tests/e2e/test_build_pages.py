"""Build pages in a browser: the live numbered log shows every line exactly once and in order,
whether its event arrives, is lost (a gap: the page fetches what it missed) or arrives while the
page is offline (it catches up when back); the state badge follows the build; the artifact
upload shows its progress and selects the new artifact in the build form.

Lines are written in this test process; their events are stored and reach the browser through
the server's hub at its next check (LIVE_CHECK_SECONDS), as a worker's would."""
import hashlib
import re

import pytest
from playwright.sync_api import expect

from applications.builds import progress, services
from applications.builds.models import Artifact, Build
from applications.models import Application, DockerfileVersion
from paas.actors import Actor
from paas.realtime import emit
from tests.builds.conftest import DOCKERFILE

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

EVENT_WAIT = 20_000


@pytest.fixture
def build(personas_e2e, tenant, settings, tmp_path):
    settings.BUILD_ARTIFACT_DIR = tmp_path / "artifacts"
    app = Application.objects.create(tenant=tenant, name="payments-api")
    dockerfile = DockerfileVersion.objects.create(application=app, number=1, content=DOCKERFILE)
    return services.build_start(actor=Actor.for_user(personas_e2e["developer"]), application=app,
                                dockerfile=dockerfile, artifact=None, tag="1.0.0")


def shown_numbers(page) -> list[int]:
    return [int(n) for n in page.locator("#build-log .build-log-line").evaluate_all(
        "rows => rows.map(r => r.dataset.n)")]


def test_the_live_log_misses_nothing_and_repeats_nothing(b, personas_e2e, build, monkeypatch):
    progress.claim(build.pk, worker="w1")
    progress.append_log(build.pk, "line before the page opened")
    page = b.new_page(personas_e2e["viewer"])
    b.goto(page, f"/applications/{build.application_id}/builds/{build.number}/")
    b.socket_frames(page)
    log = page.locator("#build-log")
    expect(log).to_contain_text("line before the page opened")
    expect(page.locator("#live-build-badge")).to_contain_text("Running")

    for i in range(3):
        progress.append_log(build.pk, f"live line {i}")
    expect(log).to_contain_text("live line 2", timeout=EVENT_WAIT)

    # An event that never arrives (lost on the way): the next one is ahead, the page fetches the gap.
    original = emit.to_tenant

    def lose_one(tenant_id, payload, **kwargs):
        if payload.get("text") == "lost line":
            return None
        return original(tenant_id, payload, **kwargs)

    monkeypatch.setattr(emit, "to_tenant", lose_one)
    progress.append_log(build.pk, "lost line")
    monkeypatch.setattr(emit, "to_tenant", original)
    progress.append_log(build.pk, "after the lost line")
    expect(log).to_contain_text("after the lost line", timeout=EVENT_WAIT)
    expect(log).to_contain_text("lost line")

    # The same event delivered twice (a replay overlapping live delivery) is shown once.
    last = Build.objects.get(pk=build.pk).log_lines
    page.evaluate("""(args) => document.body.dispatchEvent(new CustomEvent("paas:event", {detail:
        {type: "build.log", build: args.build, number: args.number, text: "after the lost line"}}))""",
                  {"build": build.pk, "number": last})

    progress.finish(build.pk, Build.State.SUCCEEDED, line="all done", image_digest="sha256:" + "a" * 64,
                    image_size=1234)
    expect(log).to_contain_text("all done", timeout=EVENT_WAIT)
    expect(page.locator("#live-build-badge")).to_contain_text("Succeeded", timeout=EVENT_WAIT)
    final = Build.objects.get(pk=build.pk)
    expect(page.locator("#build-log .build-log-line")).to_have_count(final.log_lines)
    assert shown_numbers(page) == list(range(1, final.log_lines + 1))
    texts = page.locator("#build-log .build-log-text").all_inner_texts()
    assert texts == list(final.lines.order_by("number").values_list("text", flat=True))
    expect(page.locator("[data-testid=build-digest]")).to_contain_text("sha256:" + "a" * 64)
    b.screenshots("build-live-log")


def test_lines_written_while_offline_are_caught_up(b, personas_e2e, build):
    progress.claim(build.pk, worker="w1")
    page = b.new_page(personas_e2e["viewer"])
    offline = {"now": False}
    sockets = []

    def route(ws):
        if offline["now"]:
            ws.close(code=1006)
            return
        sockets.append(ws)
        ws.connect_to_server()

    page.route_web_socket("**/ws/notifications/", route)
    b.goto(page, f"/applications/{build.application_id}/builds/{build.number}/")
    b.socket_frames(page)
    offline["now"] = True
    sockets[-1].close(code=1006)
    expect(page.locator("#live-connection")).to_be_visible()
    for i in range(5):
        progress.append_log(build.pk, f"while offline {i}")
    offline["now"] = False
    log = page.locator("#build-log")
    expect(log).to_contain_text("while offline 4", timeout=EVENT_WAIT)
    final = Build.objects.get(pk=build.pk)
    expect(page.locator("#build-log .build-log-line")).to_have_count(final.log_lines)
    assert shown_numbers(page) == list(range(1, final.log_lines + 1))


def test_upload_shows_progress_and_selects_the_artifact(b, personas_e2e, build, tmp_path):
    content = b"\x7fELF" + bytes(range(256)) * 4096  # ~1 MiB
    path = tmp_path / "service.bin"
    path.write_bytes(content)
    page = b.new_page(personas_e2e["developer"])
    b.goto(page, f"/applications/{build.application_id}/builds/new/")
    page.fill("#id_checksum", hashlib.sha256(content).hexdigest())
    page.set_input_files("#id_file", str(path))
    page.locator("#artifact-upload-form button[type=submit]").click()
    status = page.locator("#artifact-upload-status")
    expect(status).to_contain_text("Uploaded service.bin", timeout=15_000)
    artifact = Artifact.objects.get()
    assert artifact.sha256 == hashlib.sha256(content).hexdigest() and artifact.size == len(content)
    expect(page.locator("#id_artifact")).to_have_value(str(artifact.pk))
    assert page.locator("#artifact-upload-progress").evaluate("p => p.value") == 100
    b.screenshots("build-start-upload")

    page.fill("#id_tag", "2.0.0")
    page.locator("#build-start-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/builds/2/$"))
    assert Build.objects.get(number=2).artifact == artifact
    b.check(page)


def test_a_corrupt_upload_is_refused_in_the_page(b, personas_e2e, build, tmp_path):
    path = tmp_path / "app.jar"
    path.write_bytes(b"jar")
    page = b.new_page(personas_e2e["developer"])
    b.goto(page, f"/applications/{build.application_id}/builds/new/")
    page.fill("#id_checksum", "0" * 64)
    page.set_input_files("#id_file", str(path))
    page.locator("#artifact-upload-form button[type=submit]").click()
    expect(page.locator("#artifact-upload-status")).to_contain_text("corrupt upload", timeout=15_000)
    assert Artifact.objects.count() == 0
    # The browser logs the refused request (400) itself; that is the answer this test asked for.
    b.problems[:] = [p for p in b.problems if "status of 400" not in p]
