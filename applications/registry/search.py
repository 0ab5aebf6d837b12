"""Global search provider: image repositories the actor may see (registered in apps.ready)."""
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from paas.web.search import SearchHit, SearchProvider, register


def find_repositories(actor, query, limit):
    from .selectors import repositories_visible_to

    rows = repositories_visible_to(actor).filter(name__icontains=query).order_by("name")[:limit]
    return [SearchHit(r.name, reverse("registry:detail", args=[r.name]),
                      r.tenant.name if r.tenant_id else str(_("Platform base image"))) for r in rows]


def install() -> None:
    register(SearchProvider("image_repository", _("Image repositories"), "box-seam", find_repositories))
