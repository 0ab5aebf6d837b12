"""Audit trail benchmark: bulk-insert N chained events, then measure export memory.

`run()` prints insert rate and, for CSV and JSON exports of a tenth of the rows
and of all of them, the time taken and the peak Python heap (tracemalloc). Flat
streaming shows as the same peak for both sizes. Everything runs in a transaction
that is rolled back unless keep=True, so the trail is left as it was (rolling back
is the only way out on PostgreSQL, whose trigger forbids DELETE).

    from paas.audit import bench; bench.run(200_000)
"""
import datetime
import time
import tracemalloc

from django.db import transaction
from django.utils import timezone

from .chain import GENESIS_HASH, compute_hash
from .export import stream_csv, stream_json
from .models import AuditEvent
from .services import _lock_chain

_ACTIONS = ("tenant.update", "tenant.member.add", "tenant.quota.update", "tenant.token.create", "audit.export")


class _Rollback(Exception):
    pass


def insert_events(n: int, *, batch_size: int = 5000) -> float:
    """Append n chained events with bulk_create; returns the seconds taken."""
    start = time.perf_counter()
    with transaction.atomic():
        _lock_chain()
        prev = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS_HASH
        base = timezone.now()
        done = 0
        while done < n:
            batch = []
            for i in range(done, min(n, done + batch_size)):
                event = AuditEvent(
                    created_at=base + datetime.timedelta(microseconds=i),
                    actor_type="system", actor_id="bench", actor_label="system:bench",
                    tenant_id=None, tenant_slug=f"bench-{i % 10}", action=_ACTIONS[i % len(_ACTIONS)],
                    target_type="tenants.tenant", target_id=str(i % 10), target_label=f"Bench tenant {i % 10}",
                    changes={"before": {"name": f"old {i}", "cpu": i % 64},
                             "after": {"name": f"new {i}", "cpu": (i + 1) % 64, "password": "***"}},
                    request_id=f"bench{i:026d}", source_ip="10.0.0.1", user_agent="bench/1.0",
                    outcome="success", prev_hash=prev,
                )
                event.hash = compute_hash(prev, event)
                prev = event.hash
                batch.append(event)
            AuditEvent.objects.bulk_create(batch, batch_size=batch_size)
            done += len(batch)
    return time.perf_counter() - start


def measure_export(queryset, fmt: str) -> tuple[int, float, int]:
    """(bytes produced, seconds, peak traced heap bytes) for a full export.

    Timed in a first pass without tracing (tracemalloc slows Python several times),
    then the peak is taken in a second, traced pass.
    """
    streamer = {"csv": stream_csv, "json": stream_json}[fmt]
    start = time.perf_counter()
    size = sum(len(chunk) for chunk in streamer(queryset))
    seconds = time.perf_counter() - start
    tracemalloc.start()
    tracemalloc.reset_peak()
    for _chunk in streamer(queryset):
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return size, seconds, peak


def run(n: int = 100_000, *, out=print, keep: bool = False) -> dict:
    results = {}
    try:
        with transaction.atomic():
            first_id = (AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
            seconds = insert_events(n)
            results["insert_per_second"] = n / seconds
            out(f"audit bench: inserted {n} chained events in {seconds:.1f}s ({n / seconds:,.0f}/s)")
            rows = AuditEvent.objects.filter(id__gte=first_id)
            tenth = rows.filter(id__lt=first_id + max(1, n // 10))
            for fmt in ("csv", "json"):
                for label, queryset, count in (("10%", tenth, max(1, n // 10)), ("100%", rows, n)):
                    size, secs, peak = measure_export(queryset, fmt)
                    results[f"{fmt}_{label}"] = {"rows": count, "bytes": size, "seconds": secs, "peak": peak}
                    out(f"audit bench: export {fmt:4} {count:>9} rows {size / 2**20:8.1f} MiB "
                        f"in {secs:6.1f}s ({count / secs:,.0f} rows/s), peak heap {peak / 2**20:.2f} MiB")
            if not keep:
                raise _Rollback
    except _Rollback:
        out("audit bench: rolled back (the trail is unchanged)")
    return results
