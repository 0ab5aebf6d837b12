"""Dockerfile words and variables, as Docker's own shell lexer treats them.

``split_words`` cuts an instruction's arguments at unquoted white space, keeping the quotes
(they still mean something to ``expand``). ``expand`` resolves one word: quotes are removed,
a backslash escapes the next character (not inside single quotes), and ``$VAR``, ``${VAR}``,
``${VAR:-default}``, ``${VAR-default}``, ``${VAR:+alt}``, ``${VAR+alt}`` and ``${VAR:?message}``
are replaced from the build's variables (ENV, then ARG). Nothing is executed.
"""
from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ExpansionError(ValueError):
    pass


def split_words(text: str) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    quote = ""
    in_word = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            current.append(ch)
            if ch == "\\" and quote == '"' and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            in_word = True
            current.append(ch)
            if ch in "'\"":
                quote = ch
            elif ch == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
        i += 1
    if quote:
        raise ExpansionError(f"unmatched quote {quote} in {text!r}")
    if in_word:
        words.append("".join(current))
    return words


def expand(word: str, variables: dict[str, str]) -> str:
    """One word with its quotes removed and its variables replaced."""
    out: list[str] = []
    i = 0
    n = len(word)
    while i < n:
        ch = word[i]
        if ch == "'":
            end = word.find("'", i + 1)
            if end < 0:
                raise ExpansionError(f"unmatched ' in {word!r}")
            out.append(word[i + 1:end])
            i = end + 1
        elif ch == '"':
            i += 1
            while i < n and word[i] != '"':
                if word[i] == "\\" and i + 1 < n and word[i + 1] in '"$\\`':
                    out.append(word[i + 1])
                    i += 2
                elif word[i] == "$":
                    text, i = _variable(word, i, variables)
                    out.append(text)
                else:
                    out.append(word[i])
                    i += 1
            if i >= n:
                raise ExpansionError(f'unmatched " in {word!r}')
            i += 1
        elif ch == "\\":
            if i + 1 < n:
                out.append(word[i + 1])
                i += 2
            else:
                i += 1
        elif ch == "$":
            text, i = _variable(word, i, variables)
            out.append(text)
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _variable(word: str, i: int, variables: dict[str, str]) -> tuple[str, int]:
    """Expand the ``$...`` starting at ``i``; returns the text and the index after it."""
    if i + 1 >= len(word):
        return "$", i + 1
    if word[i + 1] == "{":
        end = _closing_brace(word, i + 2)
        inner = word[i + 2:end]
        return _braced(inner, variables, word), end + 1
    match = _NAME.match(word, i + 1)
    if not match:
        return "$", i + 1
    return variables.get(match.group(0), ""), match.end()


MAX_NESTING = 32  # ${a:-${b:-...}}: deeper than any real Dockerfile, shallow enough for recursion


def _closing_brace(word: str, start: int) -> int:
    depth = 1
    j = start
    while j < len(word):
        if word[j] == "\\":
            j += 2
            continue
        if word[j] == "{":
            depth += 1
            if depth > MAX_NESTING:
                raise ExpansionError(f"variable substitutions nested more than {MAX_NESTING} deep")
        elif word[j] == "}":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise ExpansionError(f"missing '}}' in {word!r}")


def _braced(inner: str, variables: dict[str, str], word: str) -> str:
    match = _NAME.match(inner)
    if not match:
        raise ExpansionError(f"bad substitution ${{{inner}}} in {word!r}")
    name = match.group(0)
    rest = inner[match.end():]
    value = variables.get(name)
    if not rest:
        return value or ""
    for op in (":-", ":+", ":?", "-", "+", "?"):
        if rest.startswith(op):
            argument = expand(rest[len(op):], variables)
            empty_counts = op.startswith(":")
            is_set = value is not None and (value != "" or not empty_counts)
            if op.endswith("-"):
                return value if is_set else argument
            if op.endswith("+"):
                return argument if is_set else ""
            if not is_set:
                raise ExpansionError(f"{name}: {argument or 'is not set'}")
            return value
    raise ExpansionError(f"unsupported substitution ${{{inner}}} in {word!r}")
