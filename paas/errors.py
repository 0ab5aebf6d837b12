"""Domain errors: mistakes a user can make, shown as clear 400/409 messages in
pages and API alike (never a 500, never a silent no-op)."""


class DomainError(Exception):
    """A request that cannot be carried out as asked. `field` names the offending input."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def as_dict(self) -> dict:
        return {self.field: [self.message]} if self.field else {"detail": self.message}


class Conflict(DomainError):
    """The request clashes with the current state (duplicate, last owner, protected)."""

    status_code = 409
    code = "conflict"
