"""Portal pages of the built-in registry: the repositories a person may see, one repository's
tags (digests, sizes, who pushed them, referrers such as build provenance), deleting a tag, and
how to sign in with a registry client."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from paas.actors import Actor
from paas.errors import DomainError
from paas.permissions import can, can_platform
from tenants.context_processors import SESSION_KEY
from tenants.selectors import tenants_visible_to

from . import selectors, services
from .auth import PLATFORM_PUSH_PERMISSION
from .models import Manifest, Tag

PAGE_SIZE = 25


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def login_help(request, tenant=None) -> dict:
    """What the "how to log in" panel shows: the host and the exact commands."""
    host = settings.REGISTRY_HOST
    tls = "" if request.is_secure() else " --tls-verify=false"
    username = request.user.get_username()
    namespace = tenant.slug if tenant is not None else "<tenant>"
    return {
        "host": host,
        "login": f"skopeo login{tls} {host} -u {username}",
        "push": f"skopeo copy{tls.replace('--tls', '--dest-tls')} oci:./image:latest "
                f"docker://{host}/{namespace}/<name>:<tag>",
        "tokens_url": f"/tenants/{tenant.slug}/tokens/" if tenant is not None else "",
    }


def may_delete(actor: Actor, repository) -> bool:
    if repository.tenant_id is None:
        return can_platform(actor, PLATFORM_PUSH_PERMISSION)
    return can(actor, "manage_applications", repository.tenant)


@login_required
def repository_list(request):
    actor = Actor.from_request(request)
    tenants = list(tenants_visible_to(actor).order_by("name"))
    chosen = next((t for t in tenants if t.slug == request.GET.get("tenant")), None)
    repositories = selectors.repositories_visible_to(actor, tenant=chosen, include_platform=chosen is None)
    if request.GET.get("tenant") == "platform":
        repositories = repositories.filter(tenant__isnull=True)
    # The login panel names the tenant chosen here, else the one in the switcher.
    current = chosen or next((t for t in tenants if t.slug == request.session.get(SESSION_KEY)),
                             tenants[0] if tenants else None)
    return render(request, "registry/list.html", {
        "page_obj": _page(request, repositories), "tenants": tenants, "chosen": request.GET.get("tenant", ""),
        "help": login_help(request, current),
    })


def _repository(request, name):
    actor = Actor.from_request(request)
    repository = selectors.repository_get(actor, name)
    if repository is None:
        raise Http404(_("No such repository."))
    return actor, repository


@login_required
def repository_detail(request, name):
    actor, repository = _repository(request, name)
    page = _page(request, selectors.tags_of(repository))
    digests = {tag.manifest.digest for tag in page}
    referrers: dict[str, list] = {}
    for item in Manifest.objects.filter(repository=repository, subject_digest__in=digests).order_by("pushed_at"):
        referrers.setdefault(item.subject_digest, []).append(item)
    for tag in page:
        tag.referrer_list = referrers.get(tag.manifest.digest, [])
    untagged = repository.manifests.filter(tags__isnull=True, subject_digest="").count()
    return render(request, "registry/detail.html", {
        "repository": repository, "page_obj": page, "can_delete": may_delete(actor, repository),
        "untagged": untagged, "help": login_help(request, repository.tenant),
        "pull": f"{settings.REGISTRY_HOST}/{repository.name}",
    })


@login_required
@require_POST
def tag_delete(request, name, tag):
    actor, repository = _repository(request, name)
    found = Tag.objects.filter(repository=repository, name=tag).select_related("manifest", "repository").first()
    if found is None:
        raise Http404(_("No such tag."))
    try:
        services.tag_delete(actor=actor, tag=found)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Tag “%(tag)s” was deleted; the image stays reachable by its digest until "
                                    "garbage collection.") % {"tag": found.name})
    return redirect("registry:detail", name=repository.name)
