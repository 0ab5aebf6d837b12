"""The realtime benchmark's Django side, a child process of paas.realtime.bench.

It plays the Celery worker: it creates the watchers (a tenant, users who are its
viewers, a session each) and then emits events through emit.to_tenant inside
transaction.atomic, as a task does. It speaks line-delimited JSON: one command
per line on stdin, one answer per line on stdout; its logs go to stderr.

Run as a script (python .../bench_worker.py) with PYTHONPATH naming the project
whose server is measured, so the emitter is always that project's emit module.
"""
import json
import os
import sys
import time


def _setup(users: int, migrate: bool) -> dict:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from paas.actors import Actor
    from tenants import services
    from tenants.roles import Role

    started = time.monotonic()
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)
        _far_ids()
    migrated = time.monotonic()
    system = Actor.for_system("bench.realtime")
    tag = f"{os.getpid()}{int(time.time()) % 100000}"
    tenant = services.tenant_create(actor=system, name=f"Bench {tag}", slug=f"bench-{tag}",
                                    default_environments=False)
    User = get_user_model()
    backend = settings.AUTHENTICATION_BACKENDS[0]
    sessions = []
    for i in range(users):
        user = User(username=f"bench-{tag}-{i}", email=f"bench-{tag}-{i}@example.invalid")
        user.set_unusable_password()  # nobody logs in: the session is made directly below
        user.save()
        # Through the service (not a bulk insert): the watcher's grants are exactly a real member's.
        services.member_add(actor=system, tenant=tenant, user=user, role=Role.VIEWER)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        sessions.append(session.session_key)
    return {"tenant_id": tenant.pk, "tag": tag, "cookie_name": settings.SESSION_COOKIE_NAME,
            "sessions": sessions, "migrate_s": round(migrated - started, 2),
            "setup_s": round(time.monotonic() - migrated, 2)}


def _far_ids() -> None:
    """A fresh database numbers tenants and users from 1, and live groups are named after those ids
    (tenant.1): on a Redis shared with a running portal, the benchmark's events would reach its
    browsers. Start the benchmark's ids far away instead."""
    import random

    from django.db import connection

    if connection.vendor != "sqlite":
        return
    start = random.randrange(10**9, 2 * 10**9)
    with connection.cursor() as cursor:
        for table in ("tenants_tenant", "auth_user", "releases_release"):
            cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
            cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, start])


def _emit(tenant_id: int, run: str, count: int, rate: float, first: int, step: int, start_at: float) -> dict:
    """Events first, first+step, ... of 1..count, event n due at start_at + (n-1)/rate, each in its own
    transaction as a task sends them. Several emitters share a run as a worker's pool processes do."""
    from django.db import transaction

    from paas.realtime import emit

    send_ms = []
    for n in range(first, count + 1, step):
        delay = start_at + (n - 1) / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter()
        with transaction.atomic():
            # bench_sent_at: the latency origin when the server adds no sent_at of its own.
            emit.to_tenant(tenant_id, {"type": "bench.event", "bench_run": run, "bench_n": n,
                                       "bench_sent_at": time.time()})
        send_ms.append((time.perf_counter() - t0) * 1000)  # commit + group_send (on_commit)
    return {"sent": len(send_ms), "send_ms": send_ms, "done_at": time.time()}


def _web_argv(host: str, port: int) -> dict:
    """The web process exactly as this project's `runall` starts it (its daphne options included)."""
    from paas.management.commands.runall import child_specs

    web = next(spec for spec in child_specs(host, port, "default") if spec.name == "web")
    return {"argv": list(web.argv)}


def _cleanup(tenant_id: int, tag: str) -> dict:
    """Remove what setup made: only on a database that outlives the benchmark (DATABASE_URL)."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session

    from tenants.models import Membership, Tenant

    users = get_user_model().objects.filter(username__startswith=f"bench-{tag}-")
    ids = [str(pk) for pk in users.values_list("pk", flat=True)]
    removed = 0
    for session in Session.objects.iterator():  # the user id is inside the encoded data
        if session.get_decoded().get("_auth_user_id") in ids:
            session.delete()
            removed += 1
    Membership.objects.filter(tenant_id=tenant_id).delete()
    users.delete()
    Tenant.objects.filter(pk=tenant_id).delete()
    return {"sessions": removed}


def _release_bench():
    from releases import bench

    return bench


def main() -> None:
    import django

    django.setup()
    handlers = {
        "setup": lambda c: _setup(c["users"], c.get("migrate", False)),
        "emit": lambda c: _emit(c["tenant_id"], c["run"], c["count"], c["rate"], c.get("first", 1),
                                c.get("step", 1), c.get("start_at", time.time())),
        "cleanup": lambda c: _cleanup(c["tenant_id"], c["tag"]),
        "web_argv": lambda c: _web_argv(c["host"], c["port"]),
        # The release stream's fan-out (releases/bench.py): a release of the bench tenant, its events.
        "release_setup": lambda c: _release_bench().setup_release(c["tenant_id"]),
        "release_emit": lambda c: _release_bench().emit_events(
            c["release_id"], c["run"], c["count"], c["rate"], c.get("first", 1), c.get("step", 1),
            c.get("start_at", time.time())),
    }
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "quit":
            break
        try:
            answer = handlers[command["cmd"]](command)
        except Exception as exc:  # the parent reports it and stops the run
            answer = {"error": f"{exc.__class__.__name__}: {exc}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
