"""Redis (the broker) down while a federated resource is edited in the portal: the
change is saved and the page answers as usual (it answered 500 although the change
was saved); the failed enqueue is logged and counted, and the beat tick sends the
sync once the broker is back."""
import time
from unittest import mock

from clusters.federation import metrics, services, tasks
from clusters.federation.models import FederatedResource, Propagation
from tests.test_degraded import redis_down  # noqa: F401 - fixture

from .conftest import SYSTEM, converge, deployment
from .test_fed_pages import TEMPLATE


def test_html_edit_with_the_broker_down_is_saved_and_caught_up_by_the_tick(
        redis_down, personas, login, topology, ftypes, django_capture_on_commit_callbacks, caplog):  # noqa: F811
    resource = services.federated_resource_create(actor=SYSTEM, environment=topology["prod"],
                                                  ftype=ftypes["Deployment"], name="shop",
                                                  template=deployment("shop"))
    converge()
    client = login(personas["developer"])
    failures = metrics.ENQUEUE_FAILURES.labels("federation.sync_cell")._value.get()
    changed = TEMPLATE.replace("nginx:1.25", "nginx:1.26")
    start = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/federation/acme/prod/{resource.pk}/edit/",
                               {"template": changed, "placement": "", "overrides": ""})
    took = time.monotonic() - start
    assert response.status_code == 302, response.content[:300]
    resource = FederatedResource.objects.get(pk=resource.pk)
    assert resource.generation == 2 and "nginx:1.26" in str(resource.template)
    assert "not enqueued" in caplog.text
    assert metrics.ENQUEUE_FAILURES.labels("federation.sync_cell")._value.get() == failures + 2  # one per cell
    assert took < 15  # bounded by the broker connection timeout, not kombu's default retries

    # The rows wait, dirty, in the database; the next tick (broker back) sends their syncs.
    assert Propagation.objects.filter(resource=resource, dirty=True).count() == 3
    with mock.patch.object(tasks.sync_cell, "apply_async") as send:
        assert tasks.tick() == {"sync": 2}  # one run per cell (cell-a: 2 clusters, cell-b: 1)
    assert send.call_count == 2
