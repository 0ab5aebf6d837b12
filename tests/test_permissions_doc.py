"""docs/permissions.md must say what tenants/roles.py does."""
import re
from pathlib import Path

from tenants.roles import ROLE_PERMISSIONS, TENANT_PERMISSIONS, Role

DOC = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"


def test_documented_matrix_matches_the_code():
    roles = [r.value for r in Role]
    rows = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"^\| `(\w+)` \|[^|]*\|(.*)\|$", line)
        if match:
            cells = [c.strip() for c in match.group(2).split("|")]
            rows[match.group(1)] = {role for role, cell in zip(roles, cells, strict=True) if cell == "✓"}
    assert set(rows) == set(TENANT_PERMISSIONS)
    for codename, granted in rows.items():
        assert granted == {r for r in roles if codename in ROLE_PERMISSIONS[r]}, codename
