"""The PromQL subset the simulated Prometheus answers (instant queries only):

    metric{label="v", label!="v", label=~"re", label!~"re"}     selectors (either part optional)
    sum|avg|max|min|count [by|without (l, ...)] (expr) [by|without (l, ...)]
    expr > 0.05, 0.05 < expr, expr >= ..., == , != (optionally "bool")   filter against a number
    ( expr ), and a bare number (a scalar)

Anything else (functions, range selectors, binary operations between vectors, offsets)
is refused with a message, as Prometheus refuses what it cannot parse (400 bad_data).
Regexes are fully anchored, like Prometheus's.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

MAX_QUERY = 4000
AGGREGATIONS = {"sum", "avg", "max", "min", "count"}
UNSUPPORTED_AGGREGATIONS = {"topk", "bottomk", "quantile", "count_values", "stddev", "stdvar", "group", "limitk",
                            "limit_ratio"}
COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<op>=~|!~|!=|==|>=|<=|[{}()\[\],=<>+\-*/%^])
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b", "f": "\f",
            "v": "\v"}


class PromQLError(ValueError):
    pass


@dataclass
class Token:
    kind: str
    text: str
    pos: int


def tokenize(query: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if match is None:
            raise PromQLError(f"1:{pos + 1}: parse error: unexpected character: {query[pos]!r}")
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(query)))
    return tokens


def _unquote(token: Token) -> str:
    text = token.text
    if text[0] == "`":
        return text[1:-1]
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        char = body[i]
        if char == "\\":
            i += 1
            if body[i] not in _ESCAPES:
                raise PromQLError(f"1:{token.pos + 1}: parse error: unknown escape sequence \\{body[i]}")
            char = _ESCAPES[body[i]]
        out.append(char)
        i += 1
    return "".join(out)


# --- syntax tree: tuples keep it small -------------------------------------------------
# ("number", value) ("selector", [(label, op, value, compiled)]) ("agg", op, "by"|"without"|"", labels, expr)
# ("cmp", op, bool_modifier, left, right)


class Parser:
    def __init__(self, query: str):
        if not query.strip():
            raise PromQLError("unknown position: parse error: no expression found in input")
        if len(query) > MAX_QUERY:
            raise PromQLError(f"query too long (at most {MAX_QUERY} characters)")
        self.tokens = tokenize(query)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self, text: str | None = None, kind: str | None = None) -> Token:
        token = self.tokens[self.i]
        if (text is not None and token.text != text) or (kind is not None and token.kind != kind):
            want = repr(text) if text else kind
            self.fail(token, f"unexpected {self.describe(token)}, expected {want}")
        self.i += 1
        return token

    @staticmethod
    def describe(token: Token) -> str:
        return "end of input" if token.kind == "end" else repr(token.text)

    @staticmethod
    def fail(token: Token, message: str):
        raise PromQLError(f"1:{token.pos + 1}: parse error: {message}")

    def parse(self):
        tree = self.expression()
        if self.peek().kind != "end":
            token = self.peek()
            self.fail(token, f"unexpected {self.describe(token)} (this simulator supports selectors, "
                             "sum/avg/max/min/count and comparisons with a number)")
        return tree

    def expression(self):
        left = self.primary()
        token = self.peek()
        if token.text in COMPARISONS:
            self.i += 1
            use_bool = False
            if self.peek().text == "bool":
                self.i += 1
                use_bool = True
            right = self.primary()
            if left[0] == "number" and right[0] == "number" and not use_bool:
                self.fail(token, "comparisons between scalars must use BOOL modifier")
            if left[0] != "number" and right[0] != "number":
                self.fail(token, "comparisons between two vectors are not supported by this simulator")
            left = ("cmp", token.text, use_bool, left, right)
        return left

    def primary(self):
        token = self.peek()
        if token.kind == "number":
            self.i += 1
            return ("number", float(token.text))
        if token.text in ("-", "+") and self.tokens[self.i + 1].kind == "number":
            self.i += 2
            value = float(self.tokens[self.i - 1].text)
            return ("number", -value if token.text == "-" else value)
        if token.text == "(":
            self.i += 1
            inner = self.expression()
            self.take(")")
            return inner
        if token.text == "{":
            return self.selector(None)
        if token.kind == "ident":
            if token.text in AGGREGATIONS:
                return self.aggregation()
            if token.text in UNSUPPORTED_AGGREGATIONS:
                self.fail(token, f"aggregation {token.text!r} is not supported by this simulator")
            if token.text.lower() in ("inf", "nan"):
                self.i += 1
                return ("number", float(token.text))
            after = self.tokens[self.i + 1]
            if after.text == "(":
                self.fail(token, f"function {token.text!r} is not supported by this simulator")
            self.i += 1
            return self.selector(token.text)
        self.fail(token, f"unexpected {self.describe(token)}")

    def grouping(self) -> tuple[str, list[str]]:
        mode = self.take(kind="ident").text
        self.take("(")
        labels = []
        while self.peek().text != ")":
            labels.append(self.take(kind="ident").text)
            if self.peek().text != ",":
                break
            self.i += 1
        self.take(")")
        return mode, labels

    def aggregation(self):
        op = self.take(kind="ident").text
        mode, labels = "", []
        if self.peek().text in ("by", "without"):
            mode, labels = self.grouping()
        self.take("(")
        inner = self.expression()
        if self.peek().text == ",":
            self.fail(self.peek(), f"{op} takes one argument")
        self.take(")")
        if self.peek().text in ("by", "without"):
            if mode:
                self.fail(self.peek(), "grouping given twice")
            mode, labels = self.grouping()
        if inner[0] == "number":
            self.fail(self.tokens[self.i - 1], "expected type instant vector in aggregation expression, got scalar")
        return ("agg", op, mode, labels, inner)

    def selector(self, name: str | None):
        matchers = []
        if name is not None:
            matchers.append(("__name__", "=", name, None))
        if self.peek().text == "{":
            self.i += 1
            while self.peek().text != "}":
                label = self.take(kind="ident")
                op = self.peek()
                if op.text not in ("=", "!=", "=~", "!~"):
                    self.fail(op, f"unexpected {self.describe(op)} in label matching, expected one of =, !=, =~, !~")
                self.i += 1
                value = _unquote(self.take(kind="string"))
                compiled = None
                if op.text in ("=~", "!~"):
                    try:
                        compiled = re.compile(value, re.DOTALL)  # Prometheus: ^(?s:re)$
                    except re.error as exc:
                        self.fail(op, f"invalid regular expression {value!r}: {exc}")
                matchers.append((label.text, op.text, value, compiled))
                if self.peek().text != ",":
                    break
                self.i += 1
            self.take("}")
        token = self.peek()
        if token.text == "[":
            self.fail(token, "range selectors are not supported by this simulator (instant queries only)")
        if token.kind == "ident" and token.text in ("offset", "@"):
            self.fail(token, "offset modifiers are not supported by this simulator")
        if not any(_matches(op, value, compiled, "") is False for _, op, value, compiled in matchers):
            self.fail(token, "vector selector must contain at least one non-empty matcher")
        return ("selector", matchers)


def _matches(op: str, value: str, compiled, actual: str) -> bool:
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    found = compiled.fullmatch(actual) is not None
    return found if op == "=~" else not found


def parse(query: str):
    return Parser(query).parse()


def _compare(op: str, a: float, b: float) -> bool:
    return {"==": a == b, "!=": a != b, ">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]


def evaluate(tree, samples: list[tuple[dict, float]]):
    """("scalar", value) or ("vector", [(labels, value)])."""
    kind = tree[0]
    if kind == "number":
        return ("scalar", tree[1])
    if kind == "selector":
        matchers = tree[1]
        return ("vector", [(labels, value) for labels, value in samples
                           if all(_matches(op, v, c, labels.get(name, "")) for name, op, v, c in matchers)])
    if kind == "agg":
        _, op, mode, labels, inner = tree
        _, vector = evaluate(inner, samples)
        groups: dict[tuple, list[float]] = {}
        keys: dict[tuple, dict] = {}
        for sample_labels, value in vector:
            if mode == "by":
                kept = {k: sample_labels[k] for k in labels if sample_labels.get(k)}
            elif mode == "without":
                kept = {k: v for k, v in sample_labels.items() if k not in labels and k != "__name__"}
            else:
                kept = {}
            key = tuple(sorted(kept.items()))
            keys[key] = kept
            groups.setdefault(key, []).append(value)
        reduce = {"sum": sum, "max": max, "min": min, "count": len, "avg": lambda v: sum(v) / len(v)}[op]
        return ("vector", [(keys[key], float(reduce(values))) for key, values in groups.items()])
    if kind == "cmp":
        _, op, use_bool, left, right = tree
        left_value, right_value = evaluate(left, samples), evaluate(right, samples)
        if left_value[0] == "scalar" and right_value[0] == "scalar":
            return ("scalar", float(_compare(op, left_value[1], right_value[1])))
        vector_on_left = left_value[0] == "vector"
        vector = left_value[1] if vector_on_left else right_value[1]
        number = right_value[1] if vector_on_left else left_value[1]
        out = []
        for labels, value in vector:
            ok = _compare(op, value, number) if vector_on_left else _compare(op, number, value)
            if use_bool:
                out.append(({k: v for k, v in labels.items() if k != "__name__"}, float(ok)))
            elif ok:
                out.append((labels, value))
        return ("vector", out)
    raise PromQLError(f"cannot evaluate {kind}")


def format_value(value: float) -> str:
    """Sample values as Prometheus writes them (Go's strconv 'f' -1: no exponent)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        text = f"{value:.20f}".rstrip("0")
    return text
