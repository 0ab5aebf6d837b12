"""Reads scoped to what the asking actor may see: applications belong to their tenant, visible to
whoever sees the tenant (tenants.selectors) and absent (404) for anyone else."""
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from paas.actors import Actor
from tenants.selectors import tenants_visible_to

from .models import AppInstance, Application, AppRevision, Component, InstanceResource


def applications_visible_to(actor: Actor) -> QuerySet[Application]:
    return Application.objects.filter(tenant__in=tenants_visible_to(actor)).select_related("tenant")


def _id(value) -> int:
    """A primary key from a URL: digits within bigint, else no such object (never a database error)."""
    text = str(value)
    if not text.isdigit() or len(text) > 18:
        raise ValueError(text)
    return int(text)


def application_get(actor: Actor, pk) -> Application:
    try:
        return applications_visible_to(actor).get(pk=_id(pk))
    except (Application.DoesNotExist, ValueError):
        raise Http404("No such application.") from None


def applications_listed(actor: Actor, *, tenant=None, query: str = "", stack: str = "", team: str = ""):
    rows = applications_visible_to(actor).annotate(component_count=Count("components", distinct=True))
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    if query:
        rows = rows.filter(Q(name__icontains=query) | Q(description__icontains=query) | Q(team__icontains=query))
    if stack:
        rows = rows.filter(stack=stack)
    if team:
        rows = rows.filter(team=team)
    return rows.order_by("tenant__name", "name")


def component_get(application: Application, name: str) -> Component:
    try:
        return application.components.get(name=name)
    except Component.DoesNotExist:
        raise Http404("No such component.") from None


def instances_of(application: Application) -> QuerySet[AppInstance]:
    return application.instances.select_related("environment", "baseline", "target")


def instance_get(application: Application, env_slug: str) -> AppInstance:
    try:
        return instances_of(application).get(environment__slug=env_slug)
    except AppInstance.DoesNotExist:
        raise Http404("No such instance.") from None


def revisions_of(application: Application) -> QuerySet[AppRevision]:
    return (application.revisions.select_related("environment", "created_by", "build", "promoted_from__environment")
            .order_by("environment__slug", "-number"))


def revision_get(application: Application, pk) -> AppRevision:
    try:
        return revisions_of(application).get(pk=_id(pk))
    except (AppRevision.DoesNotExist, ValueError):
        raise Http404("No such revision.") from None


def instance_resources(instance: AppInstance):
    """The FederatedResources the instance owns, workloads first."""
    order = {"workload": 0, "service": 1, "config": 2, "secret": 3, "pull-secret": 4}
    links = list(instance.resource_links.select_related("resource__ftype", "resource__environment",
                                                        "resource__tenant"))
    return sorted(links, key=lambda link: (link.component, order.get(link.role, 9), link.resource.name))


def instance_health(links) -> dict:
    """The worst health over the instance's workloads (federation's states and words)."""
    from clusters.federation.health import SEVERITY, UNKNOWN

    workloads = [link.resource for link in links if link.role == "workload"]
    states = [(r.status or {}).get("health") or {} for r in workloads]
    if not states:
        return {}
    worst = min(states, key=lambda h: SEVERITY.index(h.get("state")) if h.get("state") in SEVERITY
                else SEVERITY.index(UNKNOWN))
    return worst


def instance_owning(resource):
    """clusters.federation.ownership lookup: the instance owning a FederatedResource, or None."""
    from clusters.federation.ownership import Owner

    link = (InstanceResource.objects.filter(resource_id=resource.pk)
            .select_related("instance__application__tenant", "instance__environment").first())
    if link is None:
        return None
    instance = link.instance
    label = _("application %(app)s (%(env)s)") % {"app": instance.application, "env": instance.environment.slug}
    return Owner(key=instance.owner_key, label=label, url=instance.get_absolute_url())


def find_applications(actor: Actor, query: str, limit: int):
    """Global search provider (paas/web/search.py)."""
    from paas.web.search import SearchHit

    rows = (applications_visible_to(actor).filter(Q(name__icontains=query) | Q(team__icontains=query))
            .order_by("name", "pk")[:limit])
    return [SearchHit(a.name, reverse("applications:detail", args=[a.pk]),
                      f"{a.tenant.name}{' · ' + a.team if a.team else ''}") for a in rows]
