"""Where in the submitted YAML a validation error points: field path -> line.

The services name the offending value by a path such as
"placement.replicaScheduling.weights.sim-9" or "overrides[1].operations[0].path",
and the editor marks the line it is on. The text is composed (not constructed)
with the same bounded loader as the form uses, so every node keeps its start mark;
the path is then walked over the node tree.

Keys may contain dots ("app.kubernetes.io/name"), so a path segment is matched
greedily: at a mapping, the longest run of dotted segments that is a key wins.
A path that leads somewhere the document does not reach (a missing key) points at
the deepest node that exists, which is where the value would have to be added.
Lines and columns are 1-based, as editors show them.
"""
import re

import yaml

from paas.safeinput import MAX_YAML_BYTES, BoundedSafeLoader

_INDEX = re.compile(r"\[(\d+)\]")


def split_path(path: str) -> list:
    """"a.b[2].c.d" -> ["a", "b", 2, "c", "d"] (dotted names are joined later, when a
    mapping shows which of them form one key)."""
    parts: list = []
    for segment in path.split("."):
        name, _sep, rest = segment.partition("[")
        if name or not rest:
            parts.append(name)
        parts.extend(int(index) for index in _INDEX.findall("[" + rest if rest else ""))
    return [p for p in parts if p != ""]


def compose(text: str):
    """The root node of one YAML document, or None (empty, too large, not YAML)."""
    if not text or len(text) > MAX_YAML_BYTES:
        return None
    loader = BoundedSafeLoader(text)
    try:
        return loader.get_single_node()
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


def _key_match(node: yaml.MappingNode, parts: list, start: int):
    """(key node, value node, parts consumed) of the longest key made of parts[start:]."""
    names = []
    for part in parts[start:]:
        if not isinstance(part, str):
            break
        names.append(part)
    keys = {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    for count in range(len(names), 0, -1):
        found = keys.get(".".join(names[:count]))
        if found:
            return found[0], found[1], count
    return None


def locate(root, parts: list):
    """The start mark of the deepest node on `parts`: a key's own mark for a mapping
    entry (its value may start on the next line), an item's mark for a list entry."""
    node, mark, i = root, root.start_mark, 0
    while i < len(parts):
        part = parts[i]
        if isinstance(node, yaml.MappingNode):
            found = _key_match(node, parts, i) if isinstance(part, str) else None
            if found is None:
                break
            key, node, consumed = found
            mark, i = key.start_mark, i + consumed
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            mark, i = node.start_mark, i + 1
        else:
            break
    return mark


def line_of(text: str, path: str, root: str = "") -> int | None:
    """1-based line of `path` in `text`, where `root` is the name the path starts with
    ("placement" for "placement.cells[0]"); None when the text holds no document or the
    path belongs to another field."""
    parts = split_path(path or "")
    if root:
        if not parts or parts[0] != root:
            return None
        parts = parts[1:]
    node = compose(text)
    if node is None:
        return None
    return locate(node, parts).line + 1


def syntax_position(exc: yaml.YAMLError) -> tuple[int, int] | None:
    """(line, column), 1-based, of a YAML syntax error."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return (mark.line + 1, mark.column + 1) if mark is not None else None
