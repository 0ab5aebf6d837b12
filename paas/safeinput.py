"""Bounds on what a client may send: JSON bodies and YAML documents.

Hostile documents used to reach code that was never meant to see them: JSON
nested 100,000 levels deep blew the parser's recursion (a 500), a lone UTF-16
surrogate reached the audit hash (`str.encode` fails; with DEBUG on, the error
page echoing the string failed the same way, again and again, for 17 s), NUL
bytes reached PostgreSQL (jsonb refuses U+0000), and a 468-byte YAML "billion
laughs" document expanded to hundreds of MB once something walked it.

So every document is checked once, where it enters, by cheap bounded passes:
- JSON text: json.loads's own recursion guard stops absurd depths at once, then the
  depth is counted over the brackets by a linear scan (paas.api.parsers);
- YAML: a SafeLoader whose composer refuses more than a few aliases and deep nesting;
- the parsed data: one iterative walk (no recursion) that stops at the first
  problem or after MAX_NODES values (shared YAML aliases are counted as expanded).
Each problem is a DomainError naming the path of the offending value
("template.spec.template.spec.containers[0].image"), i.e. a 400 naming the field.
"""
import math
import re
from itertools import accumulate

import yaml
from django.core.exceptions import SuspiciousOperation
from django.utils.translation import gettext as _

from paas.errors import DomainError

MAX_DEPTH = 64  # a Kubernetes manifest nests ~15 levels; deep enough for any real document
MAX_NODES = 100_000  # values in one document, aliases expanded
MAX_INT = 2**63 - 1  # Kubernetes' own limit (int64); fields with a tighter bound check it themselves
MAX_YAML_BYTES = 256 * 1024
MAX_YAML_ALIASES = 32

_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
# A JSON string token (unrolled loop: linear, no backtracking) or a bracket; group 1 = an object key.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}
_JSON_TOKEN = re.compile(r'("[^"\\]*(?:\\.[^"\\]*)*")\s*:|"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


# In JSON text, every value check_data refuses shows up as one of these: a NUL or a
# surrogate can only be written as a \\u escape (strict UTF-8 decoding refuses raw
# ones), an integer beyond int64 as 19+ digits, an infinite float as a 3-digit exponent.
# Text without any of them skips the walk. Two cheap searches rather than one
# alternation: a literal prefix lets the regex engine skip ahead.
_ESCAPE_SUSPECT = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_NUMBER_SUSPECT = re.compile(r"[0-9]{19}|[eE][+-]?[0-9]{3}")


def json_needs_walk(text: str) -> bool:
    """Whether JSON text may hold a value check_data refuses (no false negatives)."""
    return bool(("\\u" in text and _ESCAPE_SUSPECT.search(text)) or _NUMBER_SUSPECT.search(text))


class UnsafeInput(DomainError):
    code = "unsafe_input"


def _fail(path: str, problem: str):
    if path:
        raise UnsafeInput(_("%(path)s: %(problem)s") % {"path": path, "problem": problem}, field=path)
    raise UnsafeInput(problem)


def check_json_depth(text: str, *, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON text nesting deeper than `limit`. Only for text json.loads accepted:
    on malformed strings the string pattern could backtrack quadratically.

    Strings are blanked and everything but brackets dropped by regex (C speed); the
    depth is the maximum running sum, also computed in C (accumulate/max), so a
    2.5 MB body costs tens of ms. Only a refused body is tokenized again, to name
    the top-level key the deep value is under, and that scan stops at the limit."""
    if text.count("[") + text.count("{") <= limit:
        return
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    if max(accumulate(map(_DELTA.__getitem__, brackets)), default=0) > limit:
        refuse_deep_json(text, limit=limit)


def refuse_deep_json(text: str, *, limit: int = MAX_DEPTH):
    """The error for text known to nest deeper than `limit`, naming the top-level key
    it is under; the scan stops at the limit, before any malformed text further on."""
    depth, key = 0, ""
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                break
        elif token in ("]", "}"):
            depth -= 1
        elif depth == 1 and match.group(1):
            key = match.group(1)[1:-1][:100]
    _fail(key, _("nests deeper than %(n)s levels") % {"n": limit})


def _string_problem(value: str) -> str | None:
    bad = _BAD_CHARS.search(value)
    if bad is None:
        return None
    if bad.group() == "\x00":
        return _("contains a NUL character")
    return _("contains a lone UTF-16 surrogate (not valid Unicode)")


def _child(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def check_data(data, root: str = "", *, max_nodes: int | None = MAX_NODES) -> None:
    """Walk parsed JSON/YAML data once, iteratively; DomainError at the first value a
    database, the audit hash or a cluster would choke on. `max_nodes` bounds the walk
    where the text's size does not bound the data (YAML aliases); None for JSON."""
    stack = [(root, data, 0)]
    seen = 0
    while stack:
        path, value, depth = stack.pop()
        seen += 1
        if max_nodes is not None and seen > max_nodes:
            _fail(root, _("holds more than %(n)s values") % {"n": max_nodes})
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, str):
            problem = _string_problem(value)
            if problem:
                _fail(path, problem)
        elif isinstance(value, int):
            if abs(value) > MAX_INT:
                _fail(path, _("is too large a number"))
        elif isinstance(value, float):
            if not math.isfinite(value):
                _fail(path, _("must be a finite number"))
        elif isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                _fail(path, _("nests deeper than %(n)s levels") % {"n": MAX_DEPTH})
            if isinstance(value, dict):
                for key, item in value.items():
                    if not isinstance(key, str):
                        _fail(path, _("keys must be strings (found %(key)r)") % {"key": str(key)[:50]})
                    problem = _string_problem(key)
                    if problem:
                        _fail(path, problem)
                    stack.append((_child(path, key[:100]), item, depth + 1))
            else:
                stack.extend((_child(path, i), item, depth + 1) for i, item in enumerate(value))
        else:
            # YAML dates, timestamps, binary: not JSON, and not storable as such.
            _fail(path, _("must be a string, number, boolean, list or object (quote dates)"))


class YAMLRefused(yaml.MarkedYAMLError):
    """A construct BoundedSafeLoader refuses; `problem` says which."""



class BoundedSafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses more than MAX_YAML_ALIASES aliases and nesting deeper
    than MAX_DEPTH while composing, i.e. before anything is expanded or recursed into."""

    def __init__(self, stream):
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def fetch_flow_collection_start(self, TokenClass):
        # The scanner reads ahead through a whole flow nest ("[[[[...") looking for a
        # possible "key:" before the composer sees the first level: refuse it here.
        if self.flow_level >= MAX_DEPTH:
            raise YAMLRefused(problem=_("nests deeper than %(n)s levels") % {"n": MAX_DEPTH},
                              problem_mark=self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise YAMLRefused(problem=_("more than %(n)s aliases (*name)") % {"n": MAX_YAML_ALIASES},
                               problem_mark=self.peek_event().start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YAMLRefused(problem=_("nests deeper than %(n)s levels") % {"n": MAX_DEPTH},
                               problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(text: str, root: str = ""):
    """One YAML (or JSON) document -> data, bounded in size, aliases, depth and values.
    yaml.YAMLError for a syntax problem or a refused construct; DomainError (naming the
    path under `root`) for a value that cannot be stored."""
    if len(text) > MAX_YAML_BYTES:
        _fail(root, _("is larger than %(n)s KiB") % {"n": MAX_YAML_BYTES // 1024})
    problem = _string_problem(text)
    if problem:
        _fail(root, problem)
    data = yaml.load(text, Loader=BoundedSafeLoader)  # noqa: S506 - a SafeLoader subclass
    check_data(data, root)
    return data


class RefuseNulMiddleware:
    """A NUL byte in the URL path or query string is a 400 before any view: PostgreSQL
    refuses NUL in text, so `/api/v1/tenants/%00/` reached the tenant lookup as a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info or "%00" in request.META.get("QUERY_STRING", ""):
            # SuspiciousOperation -> handler400: the API's JSON shape under /api/, a page elsewhere.
            raise SuspiciousOperation("NUL byte in the URL")
        return self.get_response(request)
