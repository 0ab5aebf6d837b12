"""The build task with a fake builder: a run records its outcome and provenance, its log is
numbered without gaps and pushed live, steps move forward, a re-delivered message does not
run it twice, cancel and the time limit stop it, and the reaper never leaves a build running
or queued forever (a lost worker's build is retried once, then failed)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from applications.builds import progress, reaper, runner, services, tasks
from applications.builds.models import Build, BuildLogLine
from paas.actors import Actor
from paas.models import LiveEvent

from . import fakes

pytestmark = pytest.mark.django_db


@pytest.fixture
def build(personas, app, dockerfile, artifact):
    return services.build_start(actor=Actor.for_user(personas["developer"]), application=app, dockerfile=dockerfile,
                                artifact=artifact, tag="1.0.0")


def numbers(build) -> list[int]:
    return list(BuildLogLine.objects.filter(build=build).order_by("number").values_list("number", flat=True))


def texts(build) -> list[str]:
    return list(BuildLogLine.objects.filter(build=build).order_by("number").values_list("text", flat=True))


def test_a_run_records_digest_size_blobs_and_provenance(build, fake_registry, artifact, settings):
    assert tasks.run.run(build.pk) == Build.State.SUCCEEDED
    build.refresh_from_db()
    assert build.state == Build.State.SUCCEEDED and build.step == Build.Step.PROVENANCE
    assert build.image_digest.startswith("sha256:") and build.image_size == 4321
    assert (build.blobs_uploaded, build.blobs_reused) == (2, 3)
    assert build.base_image_digest == "sha256:" + "b" * 64 and build.provenance_digest == "sha256:" + "e" * 64
    assert build.builder == "fake_build_i 1" and build.attempts == 1 and build.error == ""
    assert build.started_at and build.finished_at and build.duration is not None
    provenance = build.provenance
    assert provenance["artifact"] == {"name": "app.jar", "sha256": artifact.sha256, "size": artifact.size}
    assert provenance["dockerfileVersion"] == 1 and len(provenance["dockerfile"]["sha256"]) == 64
    assert provenance["base"] == {"name": "127.0.0.1:8000/platform/jre:17", "digest": "sha256:" + "b" * 64}
    assert provenance["builder"] == {"id": "fake_build_i", "version": "1"}
    assert provenance["build"]["id"] == build.pk and provenance["startedBy"] == "developer"
    assert provenance["startedAt"].endswith("Z")
    call = fakes.CALLS[0]
    assert call["target"].repository == "acme/payments-api" and call["target"].tag == "1.0.0"
    assert call["artifact"].read_bytes() == b"jar bytes" and call["artifact_name"] == "app.jar"
    assert call["build_id"] == str(build.pk) and call["labels"]["org.opencontainers.image.title"] == "payments-api"
    assert "push_manifest" in fake_registry["target"].calls and "get_manifest" in fake_registry["base"].calls


def test_log_is_numbered_without_gaps_and_pushed_live(build, fake_registry, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.run.run(build.pk)
    build.refresh_from_db()
    assert numbers(build) == list(range(1, build.log_lines + 1)) and build.log_lines > 8
    lines = texts(build)
    assert "Pushing blobs" in lines and "and the manifest" in lines  # a multi-line message is two lines
    assert lines[1].startswith("Build #1 started on ") and lines[-1].startswith("Build #1 succeeded: 127.0.0.1:8000/acme")
    events = [e.payload for e in LiveEvent.objects.filter(stream=f"tenant.{build.tenant_id}").order_by("seq")]
    log_events = [e for e in events if e["type"] == "build.log"]
    assert [e["number"] for e in log_events][-(build.log_lines - 1):] == list(range(2, build.log_lines + 1))
    assert all(e["build"] == build.pk and e["tenant_id"] == build.tenant_id for e in log_events)
    assert LiveEvent.objects.filter(payload__type="build.log").exclude(permission="view_tenant").count() == 0
    states = [(e["state"], e["step"]) for e in events if e["type"] == "build.state"]
    assert states[-1] == ("succeeded", "provenance")
    steps = [step for state, step in states if state == "running"]
    assert steps == ["prepare", "base", "layers", "push", "provenance"]  # forward, one event per step


def test_a_redelivered_message_does_not_run_it_twice(build, fake_registry):
    assert runner.run(build.pk) == Build.State.SUCCEEDED
    assert runner.run(build.pk) == "skipped"  # finished
    second = Build.objects.create(tenant=build.tenant, application=build.application, number=2,
                                  dockerfile=build.dockerfile, repository=build.repository, tag="x",
                                  state=Build.State.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now(),
                                  attempts=1)
    assert runner.run(second.pk) == "skipped"  # running elsewhere, heartbeat fresh
    assert len(fakes.CALLS) == 1
    assert runner.run(999999) == "skipped"  # gone


def test_a_failing_builder_fails_the_build_in_words(build, fake_registry):
    fakes.FAIL = "base image platform/jre:17 not found"
    assert runner.run(build.pk) == Build.State.FAILED
    build.refresh_from_db()
    assert build.error == "base image platform/jre:17 not found" and build.finished_at
    assert texts(build)[-1] == "Build failed: base image platform/jre:17 not found"


def test_a_missing_builder_fails_the_build(build, settings):
    settings.BUILDER = "no.such.builder"
    assert runner.run(build.pk) == Build.State.FAILED
    build.refresh_from_db()
    assert "not available" in build.error


def test_a_tampered_artifact_fails_the_build(build, fake_registry, settings, artifact):
    (settings.BUILD_ARTIFACT_DIR / artifact.path).write_bytes(b"other bytes")
    assert runner.run(build.pk) == Build.State.FAILED
    build.refresh_from_db()
    assert "no longer has its SHA-256" in build.error and fakes.CALLS == []


def test_cancel_stops_a_running_build_at_its_next_step(build, fake_registry, personas, monkeypatch):
    original = progress.append_log

    def cancel_while_adding_layers(build_id, text, **kwargs):
        result = original(build_id, text, **kwargs)
        if text.startswith("Adding layer 1"):
            services.build_cancel(actor=Actor.for_user(personas["developer"]), build=Build.objects.get(pk=build_id))
        return result

    monkeypatch.setattr(progress, "append_log", cancel_while_adding_layers)
    assert runner.run(build.pk) == Build.State.CANCELLED
    build.refresh_from_db()
    assert build.state == Build.State.CANCELLED and build.image_digest == "" and build.error == ""
    lines = texts(build)
    assert "Adding layer 2 of 3" not in lines and lines[-1] == "Cancelled."
    assert numbers(build) == list(range(1, build.log_lines + 1))


def test_the_time_limit_stops_a_build(build, fake_registry, settings):
    settings.BUILD_TIME_LIMIT_SECONDS = 0.2
    fakes.SLEEP = 0.15
    assert runner.run(build.pk) == Build.State.FAILED
    build.refresh_from_db()
    assert build.error == "Time limit of 0.2 s exceeded." and build.image_digest == ""


def test_a_cancel_requested_before_the_run_cancels_it(build, fake_registry):
    Build.objects.filter(pk=build.pk).update(cancel_requested=True)
    assert runner.run(build.pk) == "skipped"
    build.refresh_from_db()
    assert build.state == Build.State.CANCELLED and fakes.CALLS == []


# --- the reaper ------------------------------------------------------------------------------

def age(build, seconds: int, **fields):
    past = timezone.now() - timedelta(seconds=seconds)
    Build.objects.filter(pk=build.pk).update(heartbeat_at=past, started_at=past, **fields)


def test_worker_lost_is_retried_once_then_failed(build, fake_registry, django_capture_on_commit_callbacks,
                                                 monkeypatch):
    sent = []
    monkeypatch.setattr(progress, "enqueue", lambda task, args, queue: sent.append((task.name, args, queue)))
    progress.claim(build.pk, worker="w1")  # the first worker takes it ... and is killed
    age(build, 120)
    with django_capture_on_commit_callbacks(execute=True):
        assert reaper.reap() == {"timed_out": 0, "retried": 1, "lost_failed": 0, "resent": 0}
    build.refresh_from_db()
    assert build.state == Build.State.QUEUED and build.attempts == 1 and "worker lost; retrying" in texts(build)
    assert sent == [("builds.run", [build.pk], "builds")]

    progress.claim(build.pk, worker="w2")  # the second worker takes it ... and is killed too
    build.refresh_from_db()
    assert build.attempts == 2
    age(build, 120)
    assert reaper.reap()["lost_failed"] == 1
    build.refresh_from_db()
    assert build.state == Build.State.FAILED and build.error.startswith("Worker lost twice")
    assert texts(build)[-1] == "worker lost twice; the build has failed"
    assert numbers(build) == list(range(1, build.log_lines + 1))
    assert reaper.reap() == {"timed_out": 0, "retried": 0, "lost_failed": 0, "resent": 0}


def test_a_redelivered_message_takes_over_a_lost_build(build, fake_registry):
    progress.claim(build.pk, worker="w1")
    age(build, 120)
    assert runner.run(build.pk) == Build.State.SUCCEEDED
    build.refresh_from_db()
    assert build.attempts == 2 and "worker lost; retrying" in texts(build)


def test_a_slow_build_with_a_fresh_heartbeat_is_left_alone(build):
    progress.claim(build.pk, worker="w1")
    age(build, 30)  # silent for 30 s: under BUILD_LOST_AFTER_SECONDS
    assert reaper.reap()["retried"] == 0
    build.refresh_from_db()
    assert build.state == Build.State.RUNNING


def test_a_build_past_its_time_limit_is_failed(build, settings):
    settings.BUILD_TIME_LIMIT_SECONDS = 60
    progress.claim(build.pk, worker="w1")
    Build.objects.filter(pk=build.pk).update(started_at=timezone.now() - timedelta(seconds=200),
                                             heartbeat_at=timezone.now())
    assert reaper.reap()["timed_out"] == 1
    build.refresh_from_db()
    assert build.state == Build.State.FAILED and build.error == "Time limit of 60 s exceeded."


def test_a_queued_build_nobody_took_is_sent_again(build, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(progress, "enqueue", lambda task, args, queue: sent.append(args))
    Build.objects.filter(pk=build.pk).update(enqueued_at=timezone.now() - timedelta(seconds=600))
    with django_capture_on_commit_callbacks(execute=True):
        assert reaper.reap()["resent"] == 1
    assert sent == [[build.pk]]
    assert reaper.reap()["resent"] == 0  # just sent: not again at once


def test_the_reaper_is_on_the_beat_schedule_and_builds_on_their_queue(settings):
    from paas.management.commands.runall import WORKER_QUEUES

    reap = settings.CELERY_BEAT_SCHEDULE["builds-reap"]
    assert reap["task"] == "builds.reap" and reap["options"]["queue"] == "default"  # not behind the builds
    assert "builds" in WORKER_QUEUES.split(",")
    from paas.celery import app

    assert app.amqp.router.route({}, "builds.run")["queue"].name == "builds"
    assert tasks.run.acks_late and tasks.run.reject_on_worker_lost
    assert tasks.run.time_limit > tasks.run.soft_time_limit > settings.BUILD_TIME_LIMIT_SECONDS


def test_a_run_that_lost_its_build_stops_without_writing(build, fake_registry, monkeypatch):
    """The reaper took a slow run's build for lost and another worker took it over: the first
    run notices at its next check and writes nothing more (no line, no outcome)."""
    original = progress.append_log

    def taken_over_at_layer_1(build_id, text, **kwargs):
        result = original(build_id, text, **kwargs)
        if text.startswith("Adding layer 1"):
            Build.objects.filter(pk=build_id).update(attempts=2, heartbeat_at=timezone.now())
        return result

    monkeypatch.setattr(progress, "append_log", taken_over_at_layer_1)
    assert runner.run(build.pk) == runner.SUPERSEDED
    build.refresh_from_db()
    assert build.state == Build.State.RUNNING and build.image_digest == ""  # the other run's to finish
    assert texts(build)[-1] == "Adding layer 1 of 3"
    with pytest.raises(ValueError):
        progress.finish(build.pk, Build.State.QUEUED)
