"""On PostgreSQL, saves racing on one application get consecutive numbers (the application's row
is the lock), none is lost and none fails on the unique number."""
import threading

import pytest
from django.db import connections

from applications.dockerfiles import services
from applications.models import Application, DockerfileVersion
from paas.actors import Actor

from .conftest import GOOD

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgresql_only")]


def test_concurrent_saves_are_numbered_one_after_another(personas, base_images, tenant):
    application = Application.objects.create(tenant=tenant, name="racer", stack="java")
    actor = Actor.for_user(personas["developer"])
    threads, start, errors = 6, threading.Barrier(6), []

    def work(n):
        try:
            start.wait()
            services.dockerfile_save(actor=actor, application=application, content=GOOD + f"EXPOSE {8000 + n}\n")
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    numbers = sorted(DockerfileVersion.objects.filter(application=application).values_list("number", flat=True))
    assert numbers == list(range(1, threads + 1))
