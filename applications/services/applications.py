"""Applications: create, change, delete."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.audit.services import audit_record, diff
from paas.errors import Conflict, DomainError
from paas.permissions import authorize

from ..models import Application, Stack
from ._common import clean_labels, notify

EDITABLE = ("description", "team", "repository_url", "stack", "labels")


def _check(application: Application) -> None:
    try:
        application.full_clean(exclude=["tenant", "created_by"], validate_unique=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(f"{field}: {messages[0]}", field=field) from None


def application_create(*, actor: Actor, tenant, name: str, description: str = "", team: str = "",
                       repository_url: str = "", stack: str = Stack.OTHER, labels=None) -> Application:
    authorize(actor, "manage_applications", tenant, action="app.application.create")
    application = Application(tenant=tenant, name=(name or "").strip(), description=description or "",
                              team=team or "", repository_url=repository_url or "", stack=stack or Stack.OTHER,
                              labels=clean_labels(labels), created_by=actor.user)
    _check(application)
    with transaction.atomic():
        if Application.objects.filter(tenant=tenant, name=application.name).exists():
            raise Conflict(_("name: an application named %(name)s already exists in %(tenant)s")
                           % {"name": application.name, "tenant": tenant.slug}, field="name")
        application.save()
        audit_record(actor=actor, action="app.application.create", target=application,
                     after=application.audit_fields())
        notify(actor, application, "app.application.created")
    return application


def application_update(*, actor: Actor, application: Application, **fields) -> Application:
    """Change description, team, repository URL, stack or labels. The name stays: it names the
    image repository and every Kubernetes object of the application."""
    authorize(actor, "manage_applications", application, action="app.application.update")
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        field = sorted(unknown)[0]
        raise DomainError(_("%(field)s: cannot be changed") % {"field": field}, field=field)
    with transaction.atomic():
        application = Application.objects.select_for_update().select_related("tenant").get(pk=application.pk)
        before = application.audit_fields()
        for key, value in fields.items():
            setattr(application, key, clean_labels(value) if key == "labels" else (value or ""))
        if application.audit_fields() == before:
            return application
        _check(application)
        application.save()
        old, new = diff(before, application.audit_fields())
        audit_record(actor=actor, action="app.application.update", target=application, before=old, after=new)
        notify(actor, application, "app.application.updated")
    return application


def application_delete(*, actor: Actor, application: Application) -> None:
    """Delete the application and remove what its instances run from every member cluster.
    Refused while another application depends on it."""
    from clusters.federation.services import federated_resource_delete

    authorize(actor, "manage_applications", application, action="app.application.delete")
    with transaction.atomic():
        application = Application.objects.select_for_update().select_related("tenant").get(pk=application.pk)
        dependents = sorted(application.dependents.values_list("application__name", flat=True))
        if dependents:
            raise Conflict(_("%(name)s is needed by %(others)s: remove those dependencies first")
                           % {"name": application.name, "others": ", ".join(dependents)})
        for instance in application.instances.all():
            for link in instance.resource_links.select_related("resource"):
                federated_resource_delete(actor=actor, resource=link.resource, managed_by=instance.owner_key)
        audit_record(actor=actor, action="app.application.delete", target=application,
                     before=application.audit_fields())
        notify(actor, application, "app.application.deleted", url="")
        application.delete()
