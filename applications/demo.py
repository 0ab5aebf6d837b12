"""Demo delivery for `make run`: the platform's base images in the built-in registry and Acme's
`payments-api` built from a (generated) jar, revisioned and running in acme/test across cells.

It needs the web process (the registry is served under /v2/) and a worker (builds run there), so
`runall` calls it once web answers. Idempotent: a second run finds the images, the application,
its Dockerfile, artifact, build and revision and changes nothing. Every step goes through the
same services a person would use, as the system actor or the demo developer.
"""
from __future__ import annotations

import io
import time
import zipfile

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from applications.oci.errors import RegistryError
from paas.actors import Actor
from paas.errors import DomainError

APP = "payments-api"
TAG = "1.0.0"
# The release the demo leaves ready: the same built image under the next tag (its manifest says so
# in an annotation, hence another digest with the very same layers), i.e. an image-only change.
NEXT_TAG = "1.0.1"
ARTIFACT = "payments-api.jar"
BUILD_WAIT_SECONDS = 180
COMPONENT = {
    "name": "api",
    "image": f"acme/{APP}:{TAG}",
    "ports": [{"name": "http", "port": 8080}],
    "env": [{"name": "JAVA_OPTS", "value": "-XX:MaxRAMPercentage=75"}],
    "config_files": [{"path": "/etc/payments/application.yaml", "content": "settlement:\n  batch: 500\n"}],
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "256Mi"},
                  "limits": {"cpu": "500m", "memory": "256Mi", "ephemeral-storage": "256Mi"}},
    "readiness_probe": {"type": "http", "path": "/actuator/health/readiness", "port": "http"},
    "liveness_probe": {"type": "http", "path": "/actuator/health/liveness", "port": "http"},
    "replicas": {"dev": 1, "test": 2, "pre": 2, "prod": 4},
    # An OpenKruise CloneSet: releases update its pods in place (the clusters' demo registers the type).
    "workload_kind": "cloneset",
}


def demo_jar() -> bytes:
    """A small, always identical Spring-Boot-shaped jar (fixed timestamps), so the demo build is
    reproducible: a second `make run` builds the same digest and uploads nothing."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as jar:
        for name, text in (
            ("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: org.springframework.boot.loader.JarLauncher\n"
                                     "Start-Class: com.acme.payments.Application\n"),
            ("BOOT-INF/classes/application.yaml", "server:\n  port: 8080\n"),
            ("BOOT-INF/classes/com/acme/payments/Application.class", "demo class bytes\n" * 64),
        ):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            jar.writestr(info, text)
    return buffer.getvalue()


def seed_base_images(say) -> None:
    """Push the platform's base images (built locally) into the built-in registry and record their digests."""
    from applications.dockerfiles.services import base_images_ensure
    from applications.models import BaseImage
    from applications.oci.base_images import seed_base_images as push_base_images
    from applications.oci.client import RegistryClient
    from applications.registry.auth import issue_token

    base_images_ensure(actor=Actor.for_system("demo.delivery"))
    names = sorted({image.name for image in BaseImage.objects.filter(name__startswith="platform/")})
    token = issue_token(user=None, tenant=None, scopes=[f"repository:{name}:pull,push" for name in names],
                        ttl=600)
    client = RegistryClient(f"http://{settings.REGISTRY_HOST}", token=token)
    for name, tag, digest in push_base_images(client, namespace="platform"):
        BaseImage.objects.filter(name=name, tag=tag).exclude(digest=digest).update(digest=digest)
        say(f"base image {name}:{tag} {digest[:19]}")


def _application(actor, tenant):
    from applications import services
    from applications.models import Application, Component

    application = Application.objects.filter(tenant=tenant, name=APP).first()
    if application is None:
        application = services.application_create(
            actor=actor, tenant=tenant, name=APP, description="Card payments API (Spring Boot).",
            team="payments-core", repository_url="https://git.acme.example/payments/payments-api", stack="java",
            labels={"tier": "critical"})
    if not Component.objects.filter(application=application, name=COMPONENT["name"]).exists():
        services.component_create(actor=actor, application=application, data=COMPONENT)
    return application


def _retag(tenant, build, say) -> None:
    """Push NEXT_TAG: build's manifest with one more annotation (same config and layers)."""
    from applications.oci.client import RegistryClient
    from applications.registry.auth import issue_token

    repository = build.repository
    token = issue_token(user=None, tenant=tenant, scopes=[f"repository:{repository}:pull,push"], ttl=600)
    with RegistryClient(f"http://{settings.REGISTRY_HOST}", token=token) as client:
        if client.manifest_digest(repository, NEXT_TAG):
            return
        manifest = client.get_manifest(repository, build.image_digest)
        data = dict(manifest.data)
        data["annotations"] = {**(data.get("annotations") or {}), "org.opencontainers.image.version": NEXT_TAG}
        digest = client.push_manifest(repository, NEXT_TAG, data, media_type=manifest.media_type)
    say(f"delivery demo: {repository}:{NEXT_TAG} tagged ({digest[:19]}), same layers as {TAG}")


def _next_revision(actor, application, environment, build, say):
    """A revision on NEXT_TAG, left for the demo user to release (not applied)."""
    from applications import services
    from applications.models import AppRevision

    latest = (AppRevision.objects.filter(application=application, environment=environment)
              .order_by("-number").values_list("pk", flat=True).first())
    _retag(application.tenant, build, say)
    component = application.components.get(name=COMPONENT["name"])
    if component.image != f"acme/{APP}:{NEXT_TAG}":
        services.component_update(actor=actor, component=component, data={"image": f"acme/{APP}:{NEXT_TAG}"})
    revision = services.revision_create(actor=actor, application=application, environment=environment,
                                        comment=f"{NEXT_TAG}: image-only change, ready to release")
    if revision.pk != latest:
        say(f"delivery demo: revision {revision.number} ({NEXT_TAG}) of {APP} is ready to release in acme/test")
    return revision


def _dockerfile(actor, application):
    from applications.dockerfiles import services as dockerfiles

    latest = application.dockerfiles.order_by("-number").first()
    if latest is not None:
        return latest
    return dockerfiles.dockerfile_generate(actor=actor, application=application, stack="java",
                                           form={"artifact": ARTIFACT}, comment="Generated for the demo")


def _artifact(actor, application):
    from applications.builds import services as builds

    data = io.BytesIO(demo_jar())
    artifact, _created = builds.artifact_upload(actor=actor, application=application, filename=ARTIFACT,
                                                read=data.read, content_length=len(data.getvalue()))
    return artifact


def _build(actor, application, dockerfile, artifact, say):
    from applications.builds import services as builds
    from applications.builds.models import Build

    done = (Build.objects.filter(application=application, tag=TAG, state=Build.State.SUCCEEDED)
            .order_by("-number").first())
    if done is not None:
        return done
    build = (Build.objects.filter(application=application, tag=TAG, state__in=[Build.State.QUEUED,
                                                                                Build.State.RUNNING]).first()
             or builds.build_start(actor=actor, application=application, dockerfile=dockerfile,
                                   artifact=artifact, tag=TAG))
    say(f"demo build #{build.number} of acme/{APP}:{TAG} started (the worker runs it)")
    deadline = time.monotonic() + BUILD_WAIT_SECONDS
    while time.monotonic() < deadline:
        build.refresh_from_db()
        if build.finished:
            break
        time.sleep(1)
    if build.state != Build.State.SUCCEEDED:
        raise RuntimeError(f"demo build #{build.number} is {build.state}: {build.error or 'still running'}")
    say(f"demo build #{build.number}: {build.image_digest[:19]}, {build.image_size or 0} bytes")
    return build


def load_demo_delivery(say=print) -> None:
    """Base images, then Acme's payments-api: Dockerfile, artifact, build, revision, applied in acme/test,
    and a next revision (the same image tagged NEXT_TAG) ready to release there."""
    from applications import services
    from applications.models import AppRevision
    from applications.services.instances import instance_for
    from tenants.models import Tenant

    seed_base_images(say)
    tenant = Tenant.objects.filter(slug="acme").first()
    developer = get_user_model().objects.filter(username="developer").first()
    if tenant is None or developer is None:
        say("delivery demo: no acme tenant or developer account (load the demo first)")
        return
    actor = Actor.for_user(developer)
    with transaction.atomic():
        application = _application(actor, tenant)
        dockerfile = _dockerfile(actor, application)
        artifact = _artifact(actor, application)
    build = _build(actor, application, dockerfile, artifact, say)
    test = tenant.environments.get(slug="test")
    revision = (AppRevision.objects.filter(application=application, environment=test, build=build)
                .order_by("-number").first()
                or services.revision_create(actor=actor, application=application, environment=test, build=build,
                                            comment=f"Build #{build.number}"))
    with transaction.atomic():
        instance = instance_for(actor, application, test)
    if instance.baseline_id is None:
        services.instance_apply_revision(actor=actor, instance=instance, revision=revision)
        say(f"delivery demo: revision {revision.number} of {APP} applied in acme/test")
    else:
        say(f"delivery demo: revision {instance.baseline.number} of {APP} is live in acme/test")
    try:
        _next_revision(actor, application, test, build, say)
    except (RegistryError, DomainError) as exc:  # the demo still runs; only the ready release is missing
        say(f"delivery demo: no next revision to release ({exc})")
