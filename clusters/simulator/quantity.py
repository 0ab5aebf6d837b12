"""Kubernetes resource quantities ("100m", "1.5", "128Mi", "1G", "1e3") as exact fractions.

Quota enforcement and scheduling add and compare quantities, so they are parsed once
(cached) into ``Fraction`` and formatted back the way the API server prints them.
"""
from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

_SUFFIX = {
    "": 1, "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_PATTERN = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?")


@lru_cache(maxsize=4096)
def parse(text) -> Fraction:
    if isinstance(text, (int, float)):
        return Fraction(text)
    m = _PATTERN.fullmatch(str(text).strip())
    if not m:
        raise ValueError(f"quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (got {text!r})")
    number = Fraction(m.group(1))
    if m.group(2):
        return number * Fraction(10) ** int(m.group(2)[1:])
    return number * _SUFFIX[m.group(3) or ""]


@lru_cache(maxsize=4096)
def milli(text) -> int:
    """The quantity in thousandths, rounded up: integer arithmetic for hot paths
    (Fraction additions cost microseconds each, and every pod event sums resources)."""
    value = parse(text) * 1000
    return -(-value.numerator // value.denominator)


def format_milli(resource: str, value: int) -> str:
    return format_for(resource, Fraction(value, 1000))


def is_valid(text) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def format_cpu(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    millis = value * 1000
    return f"{-(-millis.numerator // millis.denominator)}m"


def format_bytes(value: Fraction) -> str:
    value = Fraction(-(-value.numerator // value.denominator))
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = _SUFFIX[suffix]
        if value and value % unit == 0:
            return f"{value // unit}{suffix}"
    return str(int(value))


def format_for(resource: str, value: Fraction) -> str:
    """Format like the API server does for a quota/allocatable resource name."""
    if resource.endswith("cpu"):
        return format_cpu(value)
    if resource.endswith("memory") or resource.endswith("storage"):
        return format_bytes(value)
    return str(int(value)) if value.denominator == 1 else format_cpu(value)
