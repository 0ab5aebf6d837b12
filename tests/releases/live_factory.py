"""A release with the fewest rows it needs (its own application, two revisions, an instance),
for the live stream tests: they exercise events, not planning or clusters."""
import itertools

from applications.models import AppInstance, Application, AppRevision
from releases.models import Release

_names = itertools.count(1)


def make_release(tenant, *, environment=None) -> Release:
    environment = environment or tenant.environments.order_by("pk").first()
    application = Application.objects.create(tenant=tenant, name=f"live-{next(_names)}")
    baseline, target = (AppRevision.objects.create(application=application, environment=environment, number=n,
                                                   spec={}, spec_hash=f"{n:064x}") for n in (1, 2))
    instance = AppInstance.objects.create(application=application, environment=environment, baseline=baseline)
    return Release.objects.create(tenant=tenant, environment=environment, instance=instance, baseline=baseline,
                                  target=target, number=1)
