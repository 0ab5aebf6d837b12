"""docs/permissions.md must say what tenants/roles.py does."""
import re
from pathlib import Path

import pytest

from tenants.roles import ROLE_PERMISSIONS, TENANT_PERMISSIONS, Role

DOC = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"


def test_documented_matrix_matches_the_code():
    roles = [r.value for r in Role]
    rows = {}
    for line in DOC.read_text().split("## Who uses what", 1)[0].splitlines():  # the role matrix
        match = re.match(r"^\| `(\w+)` \|[^|]*\|(.*)\|$", line)
        if match:
            cells = [c.strip() for c in match.group(2).split("|")]
            rows[match.group(1)] = {role for role, cell in zip(roles, cells, strict=True) if cell == "✓"}
    assert set(rows) == set(TENANT_PERMISSIONS)
    for codename, granted in rows.items():
        assert granted == {r for r in roles if codename in ROLE_PERMISSIONS[r]}, codename


# --- "Who uses what": the table against what each persona can open ----------------------

WHO_COLUMNS = ["portal", "admin", "audit", "create_tenant", "set_quota", "request_quota"]
_OPENS = {
    "portal": "/",
    "admin": "/admin/",
    "audit": "/audit/",
    "create_tenant": "/tenants/-/new/",
    "set_quota": "/tenants/-/quota-requests/",
    "request_quota": "/tenants/acme/quotas/dev/request/",
}


def _who_table() -> dict[str, set[str]]:
    text = DOC.read_text().split("## Who uses what", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in text.splitlines():
        match = re.match(r"^\| `(\w+)` \|(.*)\|$", line)
        if match:
            cells = [c.strip() for c in match.group(2).split("|")]
            rows[match.group(1)] = {col for col, cell in zip(WHO_COLUMNS, cells, strict=True) if cell == "✓"}
    return rows


def test_who_uses_what_lists_every_role_and_operators():
    assert set(_who_table()) == {r.value for r in Role} | {"operator"}


@pytest.mark.django_db
@pytest.mark.parametrize("persona", [r.value for r in Role] + ["operator"])
def test_who_uses_what_is_what_the_code_allows(personas, login, persona):
    client = login(personas[persona])
    allowed = _who_table()[persona]
    for column, url in _OPENS.items():
        status = client.get(url).status_code
        assert (status == 200) is (column in allowed), f"{persona} {column}: {url} answered {status}"


def test_readme_gives_the_django_admin_to_operators_only():
    readme = (DOC.parent.parent / "README.md").read_text()
    who = readme.split("Who uses it", 1)[1].split("\n\n", 1)[0]
    bullets = re.split(r"\n- ", who)
    admin = [b for b in bullets if "Django admin" in b and "not in the Django admin" not in b]
    assert len(admin) == 1 and admin[0].startswith("**platform operators**")
