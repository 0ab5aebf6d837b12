"""Pushing release events to the browsers watching one release (the ``release.<id>`` group).

Filled in by the live release page: see its consumer. Until then an event is only stored,
and a browser reads it with ``?after=<seq>``.
"""
import logging

logger = logging.getLogger(__name__)


def release_group(release_id: int) -> str:
    return f"release.{release_id}"


def push(tenant_id: int, release_id: int, payload: dict) -> None:
    """Hand one committed event to the channel layer; a failure (Redis down) loses nothing:
    the event is stored and a watcher fetches it after the gap it sees."""
    logger.debug("release %s event %s stored (no live push yet)", release_id, payload.get("seq"))
