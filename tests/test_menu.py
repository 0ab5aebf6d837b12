"""The sidebar shows exactly the entries a persona can open, and "Federation" opens
the tenant in the switcher."""
import re

import pytest

pytestmark = pytest.mark.django_db

PERSONAS = ["owner", "admin", "developer", "approver", "viewer", "auditor", "outsider", "operator", "superuser"]
_SIDEBAR = re.compile(r'<aside class="portal-sidebar.*?</aside>', re.S)
_HREF = re.compile(r'href="(/[^"]*)"')


def sidebar_links(client) -> list[str]:
    html = client.get("/").content.decode()
    return _HREF.findall(_SIDEBAR.search(html).group(0))


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_menu_entry_opens_for_the_persona(personas, login, persona):
    client = login(personas[persona])
    links = sidebar_links(client)
    assert links
    for href in links:
        if href.startswith("/api/docs"):
            continue
        response = client.get(href, follow=True)
        assert response.status_code == 200, f"{persona}: menu entry {href} answered {response.status_code}"


@pytest.mark.parametrize(("persona", "shown"), [
    ("owner", True), ("admin", True), ("auditor", True), ("operator", True), ("superuser", True),
    ("developer", False), ("approver", False), ("viewer", False),
])
def test_audit_trail_is_in_the_menu_only_for_who_may_audit(personas, login, persona, shown):
    client = login(personas[persona])
    assert ("/audit/" in sidebar_links(client)) is shown
    assert (client.get("/audit/").status_code == 200) is shown


@pytest.mark.parametrize(("persona", "shown"), [("operator", True), ("owner", False), ("viewer", False)])
def test_quota_requests_only_for_operators(personas, login, persona, shown):
    assert ("/tenants/-/quota-requests/" in sidebar_links(login(personas[persona]))) is shown


def test_federation_opens_the_tenant_in_the_switcher(personas, login, other_tenant):
    from tenants.roles import Role
    from tests.factories import add_member

    user = personas["viewer"]
    add_member(other_tenant, user, Role.VIEWER)
    client = login(user)
    client.get("/federation/globex/")  # visited last
    client.post("/set-tenant/", {"tenant": "acme"})  # then switched to acme
    assert "/federation/acme/" in sidebar_links(client)
    assert "/federation/globex/" not in sidebar_links(client)
