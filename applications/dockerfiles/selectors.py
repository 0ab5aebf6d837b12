"""Reads scoped to what the asking actor may see: an application of a tenant the actor cannot
see is absent (404), like a missing one; its Dockerfile versions come with it."""
from django.db.models import QuerySet
from django.http import Http404

from applications.models import Application, BaseImage, DockerfileVersion
from paas.actors import Actor
from paas.permissions import can_platform
from tenants.selectors import tenants_visible_to


def applications_visible_to(actor: Actor) -> QuerySet[Application]:
    return Application.objects.filter(tenant__in=tenants_visible_to(actor)).select_related("tenant")


def application_get(actor: Actor, pk) -> Application:
    try:
        return applications_visible_to(actor).get(pk=pk)
    except (Application.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such application.") from None


def versions_of(application: Application) -> QuerySet[DockerfileVersion]:
    """Newest first. `application` comes from application_get, so it is already in scope."""
    return application.dockerfiles.select_related("created_by").order_by("-number")


def latest_version(application: Application) -> DockerfileVersion | None:
    return versions_of(application).first()


def version_get(application: Application, number) -> DockerfileVersion:
    try:
        return versions_of(application).get(number=int(number))
    except (DockerfileVersion.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such Dockerfile version.") from None


def base_images_visible_to(actor: Actor) -> QuerySet[BaseImage]:
    """Enabled entries for everyone signed in (the allowed list is no secret); operators see all."""
    if actor.is_system or can_platform(actor, "applications.view_baseimage"):
        return BaseImage.objects.all()
    if actor.user is None:
        return BaseImage.objects.none()
    return BaseImage.objects.filter(enabled=True)
