"""Global search (Ctrl-K, the navbar box, /search/ and /api/v1/search/).

A small registry of providers, one per kind of object: each searches only through
the selector that scopes that kind to what the actor may see (guardian object
permissions and the platform permissions behind it), so a name the actor cannot
open is never returned. Applications and releases register their own provider
when they arrive:

    from paas.web.search import SearchProvider, register
    register(SearchProvider(kind="application", label=_("Applications"), icon="boxes", find=find_apps))
"""
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from paas.actors import Actor

MAX_QUERY_LENGTH = 100
DEFAULT_LIMIT = 5
MAX_LIMIT = 20


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    subtitle: str = ""


@dataclass(frozen=True)
class SearchProvider:
    kind: str
    label: str
    icon: str
    # find(actor, query, limit) -> hits; must scope through the kind's *_visible_to selector.
    find: Callable[[Actor, str, int], list[SearchHit]]


@dataclass
class SearchGroup:
    kind: str
    label: str
    icon: str
    hits: list[SearchHit] = field(default_factory=list)


_PROVIDERS: dict[str, SearchProvider] = {}


def register(provider: SearchProvider) -> SearchProvider:
    _PROVIDERS[provider.kind] = provider
    return provider


def providers() -> list[SearchProvider]:
    return list(_PROVIDERS.values())


class BadQuery(ValueError):
    """The query cannot be searched for; the message is safe to show."""


def clean_query(raw) -> str:
    query = " ".join(str(raw or "").split())  # newlines and tabs are never part of a name
    if not query:
        raise BadQuery(_("Type something to search for."))
    if len(query) > MAX_QUERY_LENGTH:
        raise BadQuery(_("Search for at most %(n)d characters.") % {"n": MAX_QUERY_LENGTH})
    if "\x00" in query:
        raise BadQuery(_("The search text contains characters that cannot be searched for."))
    return query


def search(actor: Actor, raw_query, *, limit: int = DEFAULT_LIMIT) -> list[SearchGroup]:
    """Groups of hits, one per kind with at least one hit, in registration order."""
    query = clean_query(raw_query)
    limit = max(1, min(int(limit), MAX_LIMIT))
    groups = []
    for provider in providers():
        hits = provider.find(actor, query, limit)[:limit]
        if hits:
            groups.append(SearchGroup(provider.kind, str(provider.label), provider.icon, list(hits)))
    return groups


# --- the providers of what exists today ---------------------------------------------

def _name_or_slug(query: str) -> Q:
    return Q(name__icontains=query) | Q(slug__icontains=query)


def _tenants(actor, query, limit):
    from tenants.selectors import tenants_visible_to

    rows = tenants_visible_to(actor).filter(_name_or_slug(query)).order_by("-is_active", "name")[:limit]
    return [SearchHit(t.name, t.get_absolute_url(), t.slug) for t in rows]


def _environments(actor, query, limit):
    from tenants.selectors import environments_visible_to

    rows = (environments_visible_to(actor).filter(_name_or_slug(query) | Q(tenant__name__icontains=query))
            .order_by("tenant__name", "name")[:limit])
    # Its federated resources page: open to every member (the edit page is not).
    return [SearchHit(e.name, reverse("federation:list", args=[e.tenant.slug, e.slug]),
                      f"{e.tenant.name} · {e.get_kind_display()}") for e in rows]


def _federated_resources(actor, query, limit):
    from clusters.federation.selectors import resources_visible_to

    rows = (resources_visible_to(actor).filter(deleting=False)
            .filter(Q(name__icontains=query) | Q(ftype__kind__iexact=query))
            .order_by("name", "pk")[:limit])
    return [SearchHit(r.name, r.get_absolute_url(), f"{r.ftype.kind} · {r.tenant.name} / {r.environment.name}")
            for r in rows]


def _clusters(actor, query, limit):
    from clusters.selectors import clusters_visible_to

    rows = clusters_visible_to(actor).filter(_name_or_slug(query)).order_by("name")[:limit]
    return [SearchHit(c.name, c.get_absolute_url(), f"{c.slug} · {c.cell.name}") for c in rows]


register(SearchProvider("tenant", _("Tenants"), "buildings", _tenants))
register(SearchProvider("environment", _("Environments"), "layers", _environments))
register(SearchProvider("federated_resource", _("Federated resources"), "diagram-3", _federated_resources))
register(SearchProvider("cluster", _("Clusters"), "hdd-network", _clusters))
