"""The reaper (beat, every 5 s) re-kicks the releases the executor should be driving whose lease
lapsed (a SIGKILLed worker, a kick lost while the broker was down), and leaves alone those whose
holder is alive or that nobody drives (waiting, paused, final)."""
from datetime import timedelta

from django.utils import timezone

from releases import services, tasks
from releases.engine import lease
from releases.models import Release

from .conftest import SYSTEM, revisions


def test_reaper_kicks_driven_releases_whose_lease_lapsed(app, monkeypatch):
    kicked = []
    monkeypatch.setattr(tasks, "enqueue", lambda task, args=(), **kw: kicked.append((task.name, args)) or True)
    instance, _first, second = revisions(app, "test")
    release = services.release_create(actor=SYSTEM, instance=instance, target=second)
    assert tasks.reap() == []  # planned: nobody drives it yet
    services.release_start(actor=SYSTEM, release=release)
    assert tasks.reap() == [release.pk]  # running, never leased (the kick was lost)
    assert kicked[-1] == ("releases.advance", (release.pk,))

    token = lease.acquire(release.pk, "worker-a")
    assert token and tasks.reap() == []  # a live holder
    Release.objects.filter(pk=release.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.reap() == [release.pk]  # its holder died
    assert lease.acquire(release.pk, "worker-b") == token + 1

    Release.objects.filter(pk=release.pk).update(state=Release.State.PAUSED, lease_expires_at=None)
    assert tasks.reap() == []
    Release.objects.filter(pk=release.pk).update(state=Release.State.ROLLING_BACK)
    assert tasks.reap() == [release.pk]
