"""The image registry in the browser: a push through /v2/ (an API token, as skopeo would use)
appears on the open repository page without a reload, with a toast saying who pushed what, and a
developer deletes a tag through the confirmation dialog."""
import base64
import urllib.request

import pytest
from playwright.sync_api import expect

from tenants.models import ApiToken

from ..factories import make_token
from ..registry import images

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
EVENT_WAIT = 20_000  # ms


def _push(base_url: str, username: str, token: str, name: str, img: images.Image, tag: str) -> None:
    """Push through the server's /v2/ with HTTP Basic (username + API token)."""
    auth = "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode()

    def send(method, path, data, content_type):
        request = urllib.request.Request(base_url + path, data=data, method=method,  # noqa: S310
                                         headers={"Authorization": auth, "Content-Type": content_type})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            assert response.status == 201, response.status

    for digest, data in img.blobs.items():
        send("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data, "application/octet-stream")
    send("PUT", f"/v2/{name}/manifests/{tag}", img.manifest, img.media_type)


def test_a_push_shows_up_live_and_a_tag_is_deleted(b, personas_e2e, tenant):
    _, token = make_token(personas_e2e["developer"], tenant, ApiToken.Scope.WRITE)
    _push(b.base_url, "developer", token, "acme/shop", images.image([{"app": b"1"}]), "v1")

    viewer = b.new_page(personas_e2e["viewer"])
    b.goto(viewer, "/registry/")
    expect(viewer.locator("#live-registry-list").get_by_role("link", name="acme/shop")).to_be_visible()
    expect(viewer.locator("pre").first).to_contain_text("skopeo login --tls-verify=false")
    viewer.get_by_role("link", name="acme/shop").click()
    viewer.wait_for_url(b.url("/registry/acme/shop/"))
    b.check(viewer)
    b.socket_frames(viewer)
    tags = viewer.locator("#live-registry-tags")
    expect(tags).to_contain_text("v1")
    expect(tags.get_by_role("button", name="Delete")).to_have_count(0)  # a viewer may not

    second = images.image([{"app": b"2"}])
    _push(b.base_url, "developer", token, "acme/shop", second, "v2")
    expect(tags.locator("tr", has_text="v2")).to_be_visible(timeout=EVENT_WAIT)
    toast = viewer.locator("#toast-area .toast", has_text="developer pushed acme/shop:v2")
    expect(toast).to_contain_text("Image pushed")
    assert viewer.url.endswith("/registry/acme/shop/")

    developer = b.new_page(personas_e2e["developer"])
    b.goto(developer, "/registry/acme/shop/")
    row = developer.locator("#live-registry-tags tr", has_text="v1")
    row.get_by_role("button", name="Delete").click()
    dialog = developer.locator("#confirmModal")
    expect(dialog).to_contain_text("Delete the tag “v1”?")
    dialog.locator("[data-confirm-ok]").click()
    developer.wait_for_url(b.url("/registry/acme/shop/"))
    b.check(developer)
    expect(developer.locator(".portal-messages .alert-success")).to_contain_text("“v1” was deleted")
    expect(developer.locator("#live-registry-tags tr", has_text="v1")).to_have_count(0)
    expect(tags.locator("tr", has_text="v1")).to_have_count(0, timeout=EVENT_WAIT)  # the viewer's page too
