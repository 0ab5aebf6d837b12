"""Differences between two Dockerfile versions: a unified diff (as `diff -u` prints it) and
rows for a side-by-side view, each with the line numbers of both sides and its kind."""
from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass

EQUAL, DELETE, INSERT, REPLACE = "equal", "delete", "insert", "replace"


@dataclass(frozen=True)
class Row:
    kind: str  # equal | delete | insert | replace
    left_line: int | None
    left: str | None
    right_line: int | None
    right: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").split("\n")[:-1] if text.endswith("\n") else text.split("\n") if text else []


def unified(before: str, after: str, *, from_label: str = "a/Dockerfile", to_label: str = "b/Dockerfile",
            context: int = 3) -> str:
    lines = difflib.unified_diff(_lines(before), _lines(after), fromfile=from_label, tofile=to_label, n=context,
                                 lineterm="")
    return "\n".join(lines) + ("\n" if before != after else "")


def side_by_side(before: str, after: str) -> list[Row]:
    """Every line of both texts once; a replaced block pairs its lines, the longer side's rest
    appear as deletions or insertions."""
    left, right = _lines(before), _lines(after)
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [Row(EQUAL, i + 1, left[i], j + 1, right[j]) for i, j in zip(range(i1, i2), range(j1, j2),
                                                                                  strict=True)]
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        rows += [Row(REPLACE, i1 + k + 1, left[i1 + k], j1 + k + 1, right[j1 + k]) for k in range(paired)]
        rows += [Row(DELETE, i + 1, left[i], None, None) for i in range(i1 + paired, i2)]
        rows += [Row(INSERT, None, None, j + 1, right[j]) for j in range(j1 + paired, j2)]
    return rows


def stats(rows: list[Row]) -> dict[str, int]:
    """Lines added and removed (a replaced line counts as one of each)."""
    added = sum(1 for r in rows if r.kind in (INSERT, REPLACE))
    removed = sum(1 for r in rows if r.kind in (DELETE, REPLACE))
    return {"added": added, "removed": removed}
