"""The federated-resource editor in a real browser: CodeMirror replaces the textareas
without any CSP violation (its run-time <style> carries the request's nonce), typed
text is what gets saved, a placement the server refuses is marked at its line after
the round trip, form mode changes the image inside the full YAML document, the
create page swaps starters by type, and the preview's "Apply this change" saves."""
import importlib

import pytest
from django.apps import apps
from playwright.sync_api import expect

from clusters.federation.models import FederatedResource, FederatedType
from paas.audit.models import AuditEvent

from ..csp_pages import make_platform
from .conftest import SCREENSHOT_DIR
from .test_csp import Watch

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

@pytest.fixture
def platform(transactional_db, tenant):
    # transactional_db empties every table after a test, the seeded built-in types too
    importlib.import_module("clusters.federation.migrations.0002_builtin_types").seed(apps, None)
    return make_platform(tenant)


BAD_PLACEMENT = "# where it runs\ncells:\n- cell-a\n- nowhere\n"


def shell(page, field):
    return page.locator(f"[data-editor-for={field}]")


def editor_text(page, field) -> str:
    return page.evaluate(f"window.paasEditors.get('{field}').state.doc.toString()")


def replace_text(page, field, text):
    """Select everything in the field's editor and type over it (real key presses)."""
    shell(page, field).locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    if text:
        page.keyboard.type(text)


def editors_ready(page):
    expect(page.locator("body[data-editors-ready=true]")).to_have_count(1)


def shot(page, name):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"editor-{name}.png"), full_page=True)


def test_edit_with_the_code_editor(b, personas_e2e, tenant, platform):
    resource = platform["resource"]
    edit = f"/federation/{tenant.slug}/prod/{resource.pk}/edit/"
    page = b.new_page()
    watch = Watch(page)
    b.login(page, personas_e2e["developer"])
    watch.visit(edit)
    editors_ready(page)
    for field in ("template", "placement", "overrides"):
        expect(shell(page, field).locator(".cm-editor .cm-lineNumbers")).to_have_count(1)
        expect(page.locator(f"textarea[name={field}]")).to_be_hidden()
    # the YAML is highlighted (the language is active) and the styles applied (nonce)
    assert shell(page, "template").locator(".cm-line span").count() > 5
    assert page.evaluate("getComputedStyle(document.querySelector('.cm-gutters')).display") == "flex"
    page.wait_for_timeout(200)
    watch.assert_clean()

    # A placement the server refuses: after the round trip, a marker at its line.
    replace_text(page, "placement", "")
    page.keyboard.insert_text(BAD_PLACEMENT)
    page.locator("main form button.btn-primary[type=submit]").click()
    page.wait_for_load_state("load")
    editors_ready(page)
    expect(page.locator("#id_placement_error")).to_contain_text("unknown cell")
    assert editor_text(page, "placement") == BAD_PLACEMENT  # what was posted comes back
    marked = shell(page, "placement").locator(".cm-line", has_text="- nowhere").locator(".cm-lintRange-error")
    expect(marked).to_have_count(1)
    expect(shell(page, "placement").locator(".cm-gutter-lint .cm-lint-marker-error")).to_have_count(1)
    shot(page, "marker")
    watch.assert_clean()

    # Live syntax lint while typing, then typed text is what gets saved.
    replace_text(page, "placement", "cells: [cell-a")  # closeBrackets adds the "]"
    expect(shell(page, "placement").locator(".cm-lint-marker-error")).to_have_count(0)
    assert editor_text(page, "placement") == "cells: [cell-a]"

    # Form mode: change the image; the YAML keeps every other field.
    before = editor_text(page, "template")
    page.locator("[data-mode=form]").click()
    form = page.locator("[data-workload-form]")
    expect(form).to_be_visible()
    expect(shell(page, "template")).to_be_hidden()
    expect(form.locator("[data-f=image]")).to_have_value("nginx:1.25")
    expect(form.locator("[data-f=replicas]")).to_have_value("1")
    form.locator("[data-f=image]").fill("nginx:1.27")
    form.locator("[data-f='resources.limits.memory']").fill("256Mi")
    form.locator("[data-f='readinessProbe.type']").select_option("httpGet")
    form.locator("[data-f='readinessProbe.path']").fill("/ready")
    form.locator("[data-add=env]").click()
    form.locator("[data-list=env] [data-k=name]").fill("LOG_LEVEL")
    form.locator("[data-list=env] [data-k=value]").fill("debug")
    form.locator("[data-add=ports]").click()
    expect(form.locator("[data-list=ports] [data-k=containerPort]")).to_have_value("8080")
    assert "containerPort: 8080" in editor_text(page, "template")
    form.locator("[data-list=ports] [data-remove]").click()
    expect(form.locator("[data-list=ports] [data-row]")).to_have_count(0)
    shot(page, "form-mode")
    page.locator("[data-mode=yaml]").click()
    expect(shell(page, "template")).to_be_visible()
    after = editor_text(page, "template")
    assert "image: nginx:1.27" in after and "nginx:1.25" not in after
    assert "limits:\n" in after and "memory: 256Mi" in after and "path: /ready" in after
    for kept in ("apiVersion: apps/v1", "kind: Deployment", "replicas: 1", "matchLabels:", "app: web"):
        assert kept in after and kept in before
    # and back to the form: it reads what the YAML now says
    page.locator("[data-mode=form]").click()
    expect(form.locator("[data-f=image]")).to_have_value("nginx:1.27")
    expect(form.locator("[data-f='readinessProbe.path']")).to_have_value("/ready")
    page.locator("[data-mode=yaml]").click()

    page.locator("main form button.btn-primary[type=submit]").click()
    page.wait_for_url(f"**/federation/{tenant.slug}/prod/{resource.pk}/")
    resource.refresh_from_db()
    container = resource.template["spec"]["template"]["spec"]["containers"][0]
    assert resource.generation == 2 and resource.placement == {"cells": ["cell-a"]}
    assert container["image"] == "nginx:1.27" and container["resources"] == {"limits": {"memory": "256Mi"}}
    assert container["readinessProbe"] == {"httpGet": {"path": "/ready", "port": 80}}
    assert container["env"] == [{"name": "LOG_LEVEL", "value": "debug"}]
    assert "ports" not in container  # added, then removed: no empty list left behind
    watch.assert_clean()


def test_create_page_starters_and_apply_from_preview(b, personas_e2e, tenant, platform):
    page = b.new_page()
    watch = Watch(page)
    b.login(page, personas_e2e["developer"])
    watch.visit(f"/federation/{tenant.slug}/prod/new/")
    editors_ready(page)
    assert "kind: Deployment" in editor_text(page, "template")
    assert editor_text(page, "placement").startswith("#")
    shot(page, "create")
    service = FederatedType.objects.get(kind="Service")
    page.locator("#id_ftype").select_option(str(service.pk))
    expect(shell(page, "template")).to_contain_text("kind: Service")
    assert "/spec/type" in editor_text(page, "overrides")
    # something the user wrote is not thrown away by switching the type
    replace_text(page, "template", "kind: Mine")
    page.locator("#id_ftype").select_option(str(FederatedType.objects.get(kind="ConfigMap").pk))
    assert editor_text(page, "template") == "kind: Mine"
    watch.assert_clean()

    # The preview of an edit, then "Apply this change".
    resource = platform["resource"]
    watch.visit(f"/federation/{tenant.slug}/prod/{resource.pk}/edit/")
    editors_ready(page)
    page.locator("[data-mode=form]").click()
    page.locator("[data-workload-form] [data-f=replicas]").fill("3")
    page.locator("main form button[formaction$='/preview/']").click()
    expect(page.locator("h1")).to_contain_text("Preview of your changes")
    shot(page, "preview-apply")
    page.locator("#apply-top button[type=submit]").click()
    page.wait_for_url(f"**/federation/{tenant.slug}/prod/{resource.pk}/")
    resource.refresh_from_db()
    assert resource.generation == 2 and resource.template["spec"]["replicas"] == 3
    assert AuditEvent.objects.filter(action="federation.resource.update", actor_label="developer").exists()
    assert FederatedResource.objects.count() == 1
    watch.assert_clean()
