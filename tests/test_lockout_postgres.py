"""On PostgreSQL, failures counted by concurrent processes are all counted, and a
lock is recorded once (the counter rows are locked, not read-modify-written)."""
import threading

import pytest
from django.db import connections

from paas import lockout
from paas.audit.models import AuditEvent
from paas.models import LoginThrottle

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgresql_only")]



def hammer(threads: int, each: int, username: str):
    start = threading.Barrier(threads)
    errors = []

    def work():
        try:
            start.wait()
            for _ in range(each):
                lockout.login_failed(username=username, address="192.0.2.1", reason="wrong username or password",
                                     via="portal")
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []


def test_concurrent_failures_are_all_counted(settings):
    settings.LOGIN_FAILURE_LIMIT = 1000
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 1000
    hammer(8, 5, "alice")
    assert LoginThrottle.objects.get(kind="account", key="alice").failures == 40
    assert LoginThrottle.objects.get(kind="address", key="192.0.2.1").failures == 40
    address = LoginThrottle.objects.get(kind="address")
    assert address.pending == 39  # one event written at once, the rest waiting for the summary


def test_concurrent_failures_lock_once(settings):
    settings.LOGIN_FAILURE_LIMIT = 10
    hammer(8, 5, "bob")
    assert AuditEvent.objects.filter(action="auth.lockout", target_label="bob").count() == 1
    assert AuditEvent.objects.filter(action="auth.login.failed").count() == 1
