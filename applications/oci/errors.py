"""What a registry (or the way to it) answers when it refuses: the spec's error codes."""
from __future__ import annotations


class RegistryError(Exception):
    """A registry's refusal, with the spec's error code (BLOB_UNKNOWN, MANIFEST_INVALID, DENIED, ...)."""

    def __init__(self, status: int, code: str, message: str, detail=None):
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        super().__init__(f"{code} ({status}): {message}" if status else f"{code}: {message}")


class RegistryUnreachable(RegistryError):
    """No HTTP answer at all (connection refused, DNS, TLS, timeout)."""


def error_from(response, fallback: str = "") -> RegistryError:
    """The spec's error body (``{"errors": [{"code", "message", "detail"}]}``) as a RegistryError;
    a body without one gets a code from the HTTP status."""
    status = response.status_code
    code, message, detail = "", "", None
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        errors = []
    if errors and isinstance(errors[0], dict):
        code = str(errors[0].get("code") or "")
        message = str(errors[0].get("message") or "")
        detail = errors[0].get("detail")
    if not code:
        code = {401: "UNAUTHORIZED", 403: "DENIED", 404: "NOT_FOUND", 405: "UNSUPPORTED",
                416: "RANGE_INVALID", 429: "TOOMANYREQUESTS"}.get(status, f"HTTP_{status}")
    if not message:
        text = ""
        try:
            text = response.text.strip()[:200]
        except Exception:  # noqa: BLE001, S110 (a body we cannot read adds nothing)
            pass
        message = fallback or text or response.reason or "request failed"
    return RegistryError(status, code, message, detail)
