"""Operator pages: the federated types, registering a CRD read from a member
cluster, enabling/disabling a type and marking its sensitive fields. Platform
permissions only (tokens never)."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clusters.models import Cluster
from paas.actors import Actor
from paas.errors import DomainError
from paas.permissions import NotPermitted, can_platform

from . import selectors, services
from .forms import RegisterCrdForm

VIEW, ADD, CHANGE = ("federation.view_federatedtype", "federation.add_federatedtype",
                     "federation.change_federatedtype")


def _operator(request, perm: str = VIEW) -> Actor:
    actor = Actor.from_request(request)
    if not can_platform(actor, perm):
        raise NotPermitted(_("Only platform operators may manage federated types."))
    return actor


def _render(request, actor, form, status=200):
    context = {"types": selectors.types_visible_to(actor).order_by("source", "group", "kind"), "form": form,
               "can_add": can_platform(actor, ADD), "can_change": can_platform(actor, CHANGE)}
    return render(request, "federation/types.html", context, status=status)


def _clusters():
    return Cluster.objects.select_related("cell").order_by("slug")


@login_required
def type_list(request):
    actor = _operator(request)
    return _render(request, actor, RegisterCrdForm(clusters=_clusters()))


@login_required
@require_POST
def type_register(request):
    actor = Actor.from_request(request)
    clusters = _clusters()
    form = RegisterCrdForm(request.POST, clusters=clusters)
    if not form.is_valid():
        _operator(request, ADD)
        return _render(request, actor, form, status=400)
    cluster = clusters.get(slug=form.cleaned_data["cluster"])
    try:
        ftype = services.federated_type_register_crd(actor=actor, cluster=cluster, crd_name=form.cleaned_data["crd"])
    except DomainError as exc:
        root = (exc.field or "").split(".")[0]
        form.add_error(root if root in form.fields else None, exc.message)
        return _render(request, actor, form, status=400)
    messages.success(request, _("%(kind)s (%(api)s) can now be federated.") % {"kind": ftype.kind,
                                                                             "api": ftype.api_version})
    return redirect("federation:types")


@login_required
@require_POST
def type_toggle(request, pk):
    actor = _operator(request, CHANGE)
    ftype = selectors.type_get(actor, pk)
    ftype = services.federated_type_set_enabled(actor=actor, ftype=ftype, enabled=not ftype.enabled)
    if ftype.enabled:
        messages.success(request, _("%(kind)s is enabled for federation.") % {"kind": ftype.kind})
    else:
        messages.success(request, _("%(kind)s is disabled: no new resources of this type.") % {"kind": ftype.kind})
    return redirect("federation:types")


@login_required
@require_POST
def type_sensitive(request, pk):
    """Set the type's sensitive paths: one dotted path per line of the textarea."""
    actor = _operator(request, CHANGE)
    ftype = selectors.type_get(actor, pk)
    paths = [line.strip() for line in request.POST.get("sensitive_paths", "").splitlines() if line.strip()]
    try:
        ftype = services.federated_type_set_sensitive_paths(actor=actor, ftype=ftype, paths=paths)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(kind)s: sensitive fields saved.") % {"kind": ftype.kind})
    return redirect("federation:types")
