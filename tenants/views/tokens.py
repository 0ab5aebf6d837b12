"""API token pages. The plaintext is shown once, on the creation response, and
never stored or rendered again."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from paas.errors import DomainError
from paas.web.forms import add_domain_error
from tenants import services
from tenants.forms import TokenCreateForm
from tenants.selectors import tokens_visible_to

from ._common import ensure, load_tenant, paginate, tenant_context


@login_required
def token_list(request, slug):
    actor, tenant = load_tenant(request, slug)
    context = tenant_context(actor, tenant, "tokens")
    page = paginate(request, tokens_visible_to(actor).filter(tenant=tenant).order_by("-created_at"))
    perms = context["tperms"]
    for token in page:
        token.can_revoke = token.status == "active" and (
            perms["manage_api_tokens"] or (perms["use_api_tokens"] and token.user_id == request.user.pk))
    context.update({"page_obj": page})
    return render(request, "tenants/tokens.html", context)


@login_required
def token_create(request, slug):
    actor, tenant = load_tenant(request, slug)
    ensure(request, actor, "use_api_tokens", tenant, action="tenant.token.create")
    form = TokenCreateForm(request.POST or None)
    context = tenant_context(actor, tenant, "tokens")
    if request.method == "POST" and form.is_valid():
        try:
            token, plaintext = services.token_create(
                actor=actor, tenant=tenant, name=form.cleaned_data["name"], scope=form.cleaned_data["scope"],
                expires_at=form.expires_at())
        except DomainError as exc:
            add_domain_error(form, exc, {"expires_at": "expires_on"})
        else:
            context.update({"token": token, "plaintext": plaintext})
            response = render(request, "tenants/token_created.html", context)
            # Never let a browser or proxy keep the page that carries the secret.
            add_never_cache_headers(response)
            return response
    context.update({"form": form})
    return render(request, "tenants/token_form.html", context)


@login_required
@require_POST
def token_revoke(request, slug, pk):
    actor, tenant = load_tenant(request, slug)
    token = tokens_visible_to(actor).filter(tenant=tenant, pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    try:
        services.token_revoke(actor=actor, token=token)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Token “%(name)s” (%(prefix)s…) was revoked; it no longer works.")
                         % {"name": token.name, "prefix": token.prefix})
    return redirect("tenants:tokens", slug=tenant.slug)
