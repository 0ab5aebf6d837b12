"""Reads scoped to what the asking actor may see: an application, artifact or build of a
tenant the actor cannot see is absent (a 404, the same as a missing one)."""
from django.db.models import QuerySet
from django.http import Http404

from applications.models import Application, DockerfileVersion
from paas.actors import Actor
from tenants.selectors import tenants_visible_to

from .models import Artifact, Build, BuildLogLine

LOG_PAGE_MAX = 5000


def artifacts_visible_to(actor: Actor) -> QuerySet[Artifact]:
    return Artifact.objects.filter(tenant__in=tenants_visible_to(actor)).select_related("uploaded_by")


def artifact_get(actor: Actor, application: Application, artifact_id) -> Artifact:
    try:
        return artifacts_visible_to(actor).get(application=application, pk=int(artifact_id))
    except (Artifact.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such artifact.") from None


def dockerfiles_of(application: Application) -> QuerySet[DockerfileVersion]:
    """Versions of an application the caller already may see (the application came from a selector)."""
    return DockerfileVersion.objects.filter(application=application).order_by("-number")


def builds_visible_to(actor: Actor) -> QuerySet[Build]:
    return (Build.objects.filter(tenant__in=tenants_visible_to(actor))
            .select_related("application", "tenant", "dockerfile", "artifact", "created_by"))


def build_get(actor: Actor, application: Application, number) -> Build:
    try:
        return builds_visible_to(actor).get(application=application, number=int(number))
    except (Build.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such build.") from None


def log_lines(build: Build, *, after: int = 0, limit: int = 1000) -> QuerySet[BuildLogLine]:
    """Lines numbered above `after`, in order, at most `limit` (capped at LOG_PAGE_MAX)."""
    limit = max(1, min(int(limit), LOG_PAGE_MAX))
    return BuildLogLine.objects.filter(build=build, number__gt=max(0, int(after))).order_by("number")[:limit]


def registries_for(actor: Actor, application: Application) -> list:
    """External registries a build of `application` may push to: its tenant's and platform-wide ones."""
    try:
        from applications.registry.selectors import external_registries_visible_to
    except ImportError:
        return []
    from django.db.models import Q

    return list(external_registries_visible_to(actor).filter(Q(tenant=application.tenant) | Q(tenant__isnull=True)))
