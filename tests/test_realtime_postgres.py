"""On PostgreSQL, concurrent emitters on one stream get gap-free, unique sequence
numbers, a rolled-back emitter leaves no hole, and transactions emitting to the same
streams in opposite orders do not deadlock (numbers are taken after commit)."""
import threading

import pytest
from django.db import connections, transaction

from paas.models import LiveEvent, LiveStream
from paas.realtime import emit

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgresql_only")]



def test_concurrent_emitters_number_without_gaps(monkeypatch):
    monkeypatch.setattr(emit, "_send", lambda group, message: None)
    threads, each = 8, 10
    start = threading.Barrier(threads)
    errors = []

    def work(index):
        try:
            start.wait()
            for n in range(each):
                try:
                    with transaction.atomic():
                        emit.to_group("tenant.1", {"type": "t", "n": n})
                        if (index + n) % 7 == 0:
                            raise LookupError  # rolled back: its number must be reused
                except LookupError:
                    pass
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    committed = sum(1 for i in range(threads) for n in range(each) if (i + n) % 7)
    seqs = list(LiveEvent.objects.filter(stream="tenant.1").order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, committed + 1))
    assert LiveStream.objects.get(name="tenant.1").head == committed


def test_opposite_stream_orders_do_not_deadlock(monkeypatch):
    monkeypatch.setattr(emit, "_send", lambda group, message: None)
    start = threading.Barrier(2)
    errors = []

    def work(streams):
        try:
            with transaction.atomic():
                for stream in streams:
                    emit.to_group(stream, {"type": "t"})
                    start.wait(timeout=5)  # each holds its first stream, if emitting locked it
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work, args=(order,)) for order in (("tenant.1", "tenant.2"),
                                                                          ("tenant.2", "tenant.1"))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert dict(LiveStream.objects.filter(name__startswith="tenant.").values_list("name", "head")) == {
        "tenant.1": 2, "tenant.2": 2}
