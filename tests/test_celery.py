"""Celery: the settings the platform relies on, and tasks run by a real worker.

The worker is Celery's embedded test worker (a thread in this process) on the
product's app (paas.celery), with the `redis_url` Redis as broker. With
REDIS_URL set (CI) an unreachable Redis fails these tests instead of skipping.
Each worker gets its own broker key prefix, so parallel test processes sharing
one Redis never take each other's tasks.
"""
import threading
import uuid
from datetime import timedelta

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import OperationalError, connections
from django.utils import timezone

from paas.audit.models import AuditEvent
from paas.celery import app as celery_app
from paas.tasks import PaasTask
from tenants.models import ApiToken, Membership
from tenants.tasks import expire_api_tokens, sync_membership_permissions

from .broker import reset_broker_connections
from .factories import make_token


def require_redis(url: str) -> None:
    """Fail (not skip) when the configured Redis cannot be reached."""
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        assert client.ping(), f"Redis at {url} did not answer PING"
    finally:
        client.close()


def kombu_url(url: str) -> str:
    # kombu spells a unix socket "redis+socket://"; redis-py and channels_redis "unix://".
    return "redis+socket://" + url[len("unix://"):] if url.startswith("unix://") else url


class WorkerProbe:
    """Learns from the worker thread when a task has finished, and how."""

    def __init__(self):
        self.finished: dict[str, str] = {}
        self.ran_in_worker_thread = False
        self._changed = threading.Condition()

    def on_task_postrun(self, task_id=None, state=None, **kwargs):
        # Runs in the worker thread: its connections must not outlive the test
        # (PostgreSQL refuses to drop a test database that still has sessions).
        connections.close_all()
        with self._changed:
            self.finished[task_id] = state
            self.ran_in_worker_thread = threading.current_thread() is not threading.main_thread()
            self._changed.notify_all()

    def wait(self, task_id: str, timeout: float = 20.0) -> str:
        with self._changed:
            self._changed.wait_for(lambda: task_id in self.finished, timeout)
        assert task_id in self.finished, f"the worker did not finish task {task_id} within {timeout}s"
        return self.finished[task_id]


@pytest.fixture(name="celery_worker")
def celery_worker_fixture(transactional_db, redis_url):
    """A real Celery worker consuming the default queue from Redis, for one test."""
    require_redis(redis_url)
    saved = {key: celery_app.conf[key] for key in ("broker_url", "broker_transport_options")}
    prefix = f"paas-test-{uuid.uuid4().hex[:12]}:"
    celery_app.conf.broker_url = kombu_url(redis_url)
    celery_app.conf.broker_transport_options = {**(saved["broker_transport_options"] or {}), "global_keyprefix": prefix}
    reset_broker_connections()
    probe = WorkerProbe()
    task_postrun.connect(probe.on_task_postrun, weak=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30,
                          loglevel="WARNING"):
            yield probe
    finally:
        task_postrun.disconnect(probe.on_task_postrun)
        for key, value in saved.items():
            celery_app.conf[key] = value
        reset_broker_connections()
        delete_keys(redis_url, prefix)


def delete_keys(url: str, prefix: str) -> None:
    """Leave nothing behind in a Redis that other test runs share."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def expired_token(user, tenant) -> ApiToken:
    token, _ = make_token(user, tenant, name="ci-deploy", expires_at=timezone.now() + timedelta(days=1))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    return token


# --- settings -------------------------------------------------------------------

def test_celery_reads_the_platform_settings():
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.task_default_queue == "default"
    assert conf.task_routes["paas.realtime.*"] == {"queue": "realtime"}
    # Redis re-delivers an unacknowledged task after the visibility timeout: it must
    # exceed the longest task, or a slow task would run twice while still running.
    # A retried message is held until its countdown (up to retry_backoff_max) is over, then run.
    # Any longer than needed delays the return of a killed worker's messages (it was 1 h).
    longest_hold = PaasTask.retry_backoff_max + conf.task_time_limit
    assert longest_hold < conf.broker_transport_options["visibility_timeout"] <= longest_hold + 120
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.beat_schedule["expire-api-tokens"]["task"] == "tenants.tasks.expire_api_tokens"
    assert "tenants.tasks.expire_api_tokens" in celery_app.tasks


def test_tenant_tasks_route_to_the_default_queue():
    route = celery_app.amqp.router.route({}, "tenants.tasks.expire_api_tokens")
    assert route["queue"].name == "default"


@pytest.mark.parametrize("task", [expire_api_tokens, sync_membership_permissions])
def test_tasks_are_safe_to_redeliver_and_retry_boundedly(task):
    assert isinstance(task, PaasTask)
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
    assert task.max_retries == 5
    assert task.retry_backoff and task.retry_backoff_max == 300
    assert OperationalError in task.autoretry_for and ConnectionError in task.autoretry_for
    # Domain errors are bugs or user errors, not transient: never retried.
    assert not any(issubclass(ValueError, exc) for exc in task.autoretry_for)
    assert 0 < task.soft_time_limit < task.time_limit <= celery_app.conf.task_time_limit


# --- tasks ----------------------------------------------------------------------

def test_task_binds_its_id_as_request_id(db, personas, tenant):
    token = expired_token(personas["developer"], tenant)
    result = expire_api_tokens.apply(task_id="task-request-id-1")
    assert result.successful() and result.result == 1
    event = AuditEvent.objects.get(action="tenant.token.expire", target_id=str(token.pk))
    assert event.request_id == "task-request-id-1"
    assert event.actor_label == "system:beat.expire_api_tokens"


def test_task_given_a_deleted_row_returns_quietly(db, personas, tenant):
    membership = Membership.objects.get(tenant=tenant, user=personas["viewer"])
    membership_id = membership.pk
    Membership.objects.filter(pk=membership_id).delete()
    result = sync_membership_permissions.apply(args=(membership_id,))
    assert result.successful()
    assert result.result is None


def test_sync_membership_permissions_restores_the_role_grants(db, personas, tenant):
    from guardian.shortcuts import get_user_perms, remove_perm

    viewer = personas["viewer"]
    remove_perm("tenants.view_tenant", viewer, tenant)
    assert "view_tenant" not in get_user_perms(viewer, tenant)
    membership = Membership.objects.get(tenant=tenant, user=viewer)
    assert sync_membership_permissions.apply(args=(membership.pk,)).result == "viewer"
    assert "view_tenant" in get_user_perms(viewer, tenant)


def test_real_worker_runs_the_task_and_leaves_one_audit_event(celery_worker, personas, tenant):
    token = expired_token(personas["developer"], tenant)
    before = AuditEvent.objects.count()

    result = expire_api_tokens.delay()

    assert celery_worker.wait(result.id) == "SUCCESS"
    assert celery_worker.ran_in_worker_thread  # not eager: the worker took it from Redis
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.get(action="tenant.token.expire")
    assert event.target_id == str(token.pk) and event.tenant_slug == "acme"
    assert event.actor_label == "system:beat.expire_api_tokens"
    assert event.request_id == result.id  # the audit row names the task that wrote it

    # A re-delivery (acks_late) finds nothing left to do and records nothing.
    again = expire_api_tokens.delay()
    assert celery_worker.wait(again.id) == "SUCCESS"
    assert AuditEvent.objects.count() == before + 1


def test_real_worker_skips_a_row_deleted_before_it_ran(celery_worker, personas, tenant):
    membership = Membership.objects.get(tenant=tenant, user=personas["viewer"])
    membership_id = membership.pk
    membership.delete()
    result = sync_membership_permissions.delay(membership_id)
    assert celery_worker.wait(result.id) == "SUCCESS"
