"""Secrets never reach the audit trail, logs or API output."""
import re

REDACTED = "***"
_SECRET_KEY_RE = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|private[_-]?key|credential|kubeconfig|client[_-]?key|"
    r"bearer|authorization|cookie|hash)",
    re.IGNORECASE,
)


def is_secret_field(name: str) -> bool:
    return bool(_SECRET_KEY_RE.search(name))


def redact(value):
    """Return a copy where every value under a secret-looking key is replaced."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret_field(str(k)) and v not in (None, "") else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
