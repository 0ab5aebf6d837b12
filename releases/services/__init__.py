"""Release services: every write to releases, as `release_<verb>(*, actor, ...)` (DESIGN §5)."""
from .actions import (
    release_abort,
    release_confirm,
    release_pause,
    release_resume,
    release_rollback,
    release_start,
)
from .releases import active_release, release_create, release_preview
from .traffic import (
    provider_secret,
    traffic_provider_create,
    traffic_provider_delete,
    traffic_provider_update,
)

__all__ = [
    "active_release", "provider_secret", "release_abort", "release_confirm", "release_create", "release_pause",
    "release_preview", "release_resume", "release_rollback", "release_start", "traffic_provider_create",
    "traffic_provider_delete", "traffic_provider_update",
]
