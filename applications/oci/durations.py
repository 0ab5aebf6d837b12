"""Go's duration syntax (``1m30s``, ``500ms``, ``1.5h``), as Docker's HEALTHCHECK flags take it."""
import re

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
MAX_NANOSECONDS = 2 ** 63 - 1


def parse_duration(text: str) -> int:
    """Nanoseconds; ValueError for anything Go's time.ParseDuration would refuse (or a negative)."""
    text = text.strip()
    if text == "0":
        return 0
    if not text or text.startswith("-"):
        raise ValueError(f"{text!r} is not a duration such as 30s, 1m30s or 500ms")
    total = 0.0
    position = 1 if text.startswith("+") else 0
    while position < len(text):
        match = _PART.match(text, position)
        if not match:
            raise ValueError(f"{text!r} is not a duration such as 30s, 1m30s or 500ms")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if total > MAX_NANOSECONDS:
        raise ValueError(f"{text!r} is too long")
    return int(total)
