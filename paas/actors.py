"""Who is acting: a user (browser session), an API token (on behalf of its user),
or a named system process (Celery task, beat job, management command).

Every service takes an explicit `actor`; the audit trail and the permission
module both read it, so the same rules apply in pages, API, admin and tasks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenants.models import ApiToken


@dataclass(frozen=True)
class Actor:
    user: Any = None  # django.contrib.auth User or None
    token: ApiToken | None = None
    system: str | None = None

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(user=user)

    @classmethod
    def for_token(cls, token: ApiToken) -> Actor:
        return cls(user=token.user, token=token)

    @classmethod
    def for_system(cls, name: str) -> Actor:
        return cls(system=name)

    @classmethod
    def from_request(cls, request) -> Actor:
        """Build the actor of a Django or DRF request (token auth sets request.auth)."""
        from tenants.models import ApiToken

        auth = getattr(request, "auth", None)
        if isinstance(auth, ApiToken):
            return cls.for_token(auth)
        user = getattr(request, "user", None)
        return cls(user=user if user is not None and user.is_authenticated else None)

    @property
    def kind(self) -> str:
        if self.system:
            return "system"
        if self.token is not None:
            return "token"
        if self.user is not None:
            return "user"
        return "anonymous"

    @property
    def is_system(self) -> bool:
        return bool(self.system)

    @property
    def identifier(self) -> str:
        if self.system:
            return self.system
        if self.token is not None:
            return self.token.prefix
        if self.user is not None:
            return str(self.user.pk)
        return ""

    @property
    def label(self) -> str:
        if self.system:
            return f"system:{self.system}"
        if self.token is not None:
            return f"{self.token.user.get_username()} (token {self.token.prefix})"
        if self.user is not None:
            return self.user.get_username()
        return "anonymous"

    def __str__(self) -> str:
        return self.label
