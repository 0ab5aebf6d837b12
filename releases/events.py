"""Numbered release events: the one way a transition is recorded.

``record()`` must run inside the transaction that makes the transition. It takes the next
number with ``UPDATE ... SET last_seq = last_seq + 1 ... RETURNING``, which holds the release's
row lock until commit, so numbers are gap-free and in commit order even with two writers; the
event reaches browsers only after commit (releases/live.py), so a rolled-back transition is
never seen.
"""
from django.db import connection, transaction

from paas.actors import Actor
from paas.realtime.emit import actor_name

from .models import Release, ReleaseEvent


def _next_seq(release_id: int) -> int:
    table = Release._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq",  # noqa: S608
                       [release_id])
        row = cursor.fetchone()
    if row is None:
        raise Release.DoesNotExist(f"release {release_id} is gone")
    return row[0]


def record(release: Release, kind: str, message: str = "", *, actor: Actor | None = None,
           data: dict | None = None) -> ReleaseEvent:
    """Store the next numbered event of `release` and push it to its watchers after commit."""
    if not connection.in_atomic_block:
        raise RuntimeError("releases.events.record() must run inside the transition's transaction")
    seq = _next_seq(release.pk)
    release.last_seq = seq
    event = ReleaseEvent.objects.create(release=release, seq=seq, kind=kind, message=message,
                                        data=data or {}, actor=actor_name(actor) if actor else "system")
    payload = event.as_dict()
    tenant_id, release_id = release.tenant_id, release.pk

    def push():
        from . import live
        live.push(tenant_id, release_id, payload)

    transaction.on_commit(push)
    if kind.startswith("release."):
        # Lists of releases (and dashboards) watch the tenant's stream, not every release's: tell
        # them a release changed state so they refresh (silently: no toast for background work).
        from paas.realtime import emit

        emit.to_tenant(tenant_id, {"type": "release.state", "release": release_id, "kind": kind},
                       permission="view_tenant")
    return event


def record_many(release: Release, items: list[tuple[str, str, dict]], *, actor: Actor | None = None) -> list:
    """record() for many events at once: [(kind, message, data)] numbered in that order with one
    UPDATE, stored with one INSERT and pushed after commit in one go (a step of a hundred pods
    makes hundreds of pod.state events; one round trip each held the executor's loop for
    seconds). Same rules as record(): inside the transition's transaction."""
    if not items:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("releases.events.record_many() must run inside the transition's transaction")
    table = Release._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET last_seq = last_seq + %s WHERE id = %s RETURNING last_seq",  # noqa: S608
                       [len(items), release.pk])
        row = cursor.fetchone()
    if row is None:
        raise Release.DoesNotExist(f"release {release.pk} is gone")
    first = row[0] - len(items) + 1
    release.last_seq = row[0]
    name = actor_name(actor) if actor else "system"
    events = ReleaseEvent.objects.bulk_create([
        ReleaseEvent(release=release, seq=first + i, kind=kind, message=message, data=data or {}, actor=name)
        for i, (kind, message, data) in enumerate(items)])
    payloads = [event.as_dict() for event in events]
    tenant_id, release_id = release.tenant_id, release.pk

    def push():
        from . import live
        live.push_many(tenant_id, release_id, payloads)

    transaction.on_commit(push)
    return events


def after(release: Release, seq: int, limit: int = 1000) -> list[dict]:
    """Events numbered above `seq`, oldest first (what a reconnecting browser asks for)."""
    return [e.as_dict() for e in release.events.filter(seq__gt=seq).order_by("seq")[:limit]]
