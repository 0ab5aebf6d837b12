"""The release executor (see executor.py): kick(release_id) hands a release to a worker."""


def kick(release_id: int) -> bool:
    """Enqueue releases.advance for the release; a broker outage is logged, and the reaper
    (releases.reap, every 5 s) finds the release again."""
    from paas.tasks import enqueue

    from .. import tasks

    return enqueue(tasks.advance, args=(int(release_id),))
