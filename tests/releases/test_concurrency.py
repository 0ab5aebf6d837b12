"""One active release per instance even when two requests create one at the same moment: the
instance row lock makes the second wait and then see the first (a real race, two connections)."""
import threading

import pytest
from django.db import connection

from paas.errors import Conflict
from releases import services
from releases.models import Release

from ..applications.conftest import SYSTEM
from .conftest import revisions

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_creations_at_once_make_one_release(app):
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memorydb"):
        pytest.skip("threads need a shared database: run with DATABASE_URL (PostgreSQL)")
    instance, first, second = revisions(app, "test")
    barrier, outcomes = threading.Barrier(2), []

    def create():
        try:
            barrier.wait()
            services.release_create(actor=SYSTEM, instance=instance, target=second)
            outcomes.append("created")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["created", "release_active"]
    assert Release.objects.filter(instance=instance).count() == 1
