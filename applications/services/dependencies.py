"""Dependencies between applications of one tenant, kept acyclic."""
from django.db import transaction
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.audit.services import audit_record
from paas.errors import DomainError
from paas.permissions import authorize
from tenants.models import Tenant

from ..models import Application, ApplicationDependency
from ._common import notify


def find_path(start: Application, goal_id: int, edges: dict[int, list[int]]) -> list[int] | None:
    """Application ids from start to goal following `edges`, or None (depth-first, deterministic)."""
    stack, seen = [(start.pk, [start.pk])], set()
    while stack:
        node, path = stack.pop()
        if node == goal_id:
            return path
        if node in seen:
            continue
        seen.add(node)
        for nxt in sorted(edges.get(node, ()), reverse=True):
            stack.append((nxt, [*path, nxt]))
    return None


def dependency_add(*, actor: Actor, application: Application, depends_on: Application) -> ApplicationDependency:
    """"application needs depends_on". Refused when it would close a cycle, naming it
    ("payments-api -> accounts-api -> payments-api")."""
    authorize(actor, "manage_applications", application, action="app.dependency.add")
    if depends_on.tenant_id != application.tenant_id:
        raise DomainError(_("depends_on: no such application in this tenant"), field="depends_on")
    if depends_on.pk == application.pk:
        raise DomainError(_("depends_on: an application cannot depend on itself"), field="depends_on")
    with transaction.atomic():
        # One dependency change per tenant at a time: two edges added at once could close a cycle
        # that neither transaction sees on its own.
        Tenant.objects.select_for_update().filter(pk=application.tenant_id).first()
        existing = ApplicationDependency.objects.filter(application=application, depends_on=depends_on).first()
        if existing is not None:
            return existing
        edges: dict[int, list[int]] = {}
        for source, target in ApplicationDependency.objects.filter(
                application__tenant_id=application.tenant_id).values_list("application_id", "depends_on_id"):
            edges.setdefault(source, []).append(target)
        path = find_path(depends_on, application.pk, edges)
        if path is not None:
            names = dict(Application.objects.filter(pk__in=path).values_list("pk", "name"))
            cycle = " -> ".join([application.name, *(names[pk] for pk in path)])
            raise DomainError(_("depends_on: this would make a cycle: %(cycle)s") % {"cycle": cycle},
                           field="depends_on", code="cycle")
        edge = ApplicationDependency.objects.create(application=application, depends_on=depends_on,
                                                    created_by=actor.user)
        audit_record(actor=actor, action="app.dependency.add", target=application,
                     after={"depends_on": depends_on.name})
        notify(actor, application, "app.dependency.added", depends_on=depends_on.name)
    return edge


def dependency_remove(*, actor: Actor, application: Application, depends_on: Application) -> None:
    authorize(actor, "manage_applications", application, action="app.dependency.remove")
    with transaction.atomic():
        deleted, _rows = ApplicationDependency.objects.filter(application=application, depends_on=depends_on).delete()
        if not deleted:
            return
        audit_record(actor=actor, action="app.dependency.remove", target=application,
                     before={"depends_on": depends_on.name})
        notify(actor, application, "app.dependency.removed", depends_on=depends_on.name)
