"""Handing a release to the executor once the transition that needs it has committed.

The executor (releases/engine/, a Celery task under a lease) comes from its own branch; until it
is there, the kick does nothing and the release waits in its state (the beat reaper, once
present, also re-kicks driven releases). This is the one place that knows it may be missing.
"""
import importlib.util
import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def kick(release_id: int) -> None:
    if importlib.util.find_spec("releases.engine") is None:
        logger.debug("release %s: no executor installed yet", release_id)
        return
    from releases import engine

    engine.kick(release_id)


def kick_on_commit(release_id: int) -> None:
    transaction.on_commit(lambda: kick(release_id))
