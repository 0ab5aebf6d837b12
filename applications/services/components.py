"""Components of an application: create, change, delete. Secret env values are sealed at once
and never written to the audit trail: only which names were set, changed or removed."""
from django.db import transaction
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.audit.services import audit_record, diff
from paas.errors import Conflict, DomainError
from paas.permissions import authorize

from .. import secrets, validation
from ..models import Application, Component
from ._common import notify

MAX_COMPONENTS = 50  # workloads per application: far above any real one, a bound on what a revision renders


def settings_of(component: Component) -> dict:
    """The component's settings in validation.component's shape (no secrets)."""
    return {field: getattr(component, field) for field in validation.FIELDS}


def _merge_secrets(component: Component | None, given) -> tuple[dict, dict]:
    """(values to store, what changed by name) from the stored values and the {NAME: value|None} given."""
    stored = secrets.unseal(component.secret_env) if component is not None else {}
    given = validation.secret_env(given)
    values = {}
    for name, value in given.items():
        if value is None:
            if name not in stored:
                raise DomainError(_("secret_env.%(name)s: no stored value to keep; give one") % {"name": name},
                                  field=f"secret_env.{name}")
            values[name] = stored[name]
        else:
            values[name] = value
    changes = {"set": sorted(n for n in values if n not in stored),
               "changed": sorted(n for n in values if n in stored and stored[n] != values[n]),
               "removed": sorted(n for n in stored if n not in values)}
    return values, {k: v for k, v in changes.items() if v}


def _check_env_names(cleaned: dict, secret_names) -> None:
    clash = sorted({e["name"] for e in cleaned["env"]} & set(secret_names))
    if clash:
        raise DomainError(_("secret_env.%(name)s: also set as a plain environment variable") % {"name": clash[0]},
                          field=f"secret_env.{clash[0]}")


def _store(component: Component, cleaned: dict, secret_values: dict | None) -> None:
    for field in validation.FIELDS:
        setattr(component, field, cleaned[field])
    if secret_values is not None:
        component.secret_env = secrets.seal(secret_values)
        component.secret_env_names = sorted(secret_values)


def component_create(*, actor: Actor, application: Application, data: dict) -> Component:
    authorize(actor, "manage_applications", application, action="app.component.create")
    cleaned = validation.component(data, application_name=application.name)
    values, _changes = _merge_secrets(None, data.get("secret_env"))
    _check_env_names(cleaned, values)
    with transaction.atomic():
        if Component.objects.filter(application=application, name=cleaned["name"]).exists():
            raise Conflict(_("name: %(app)s already has a component named %(name)s")
                           % {"app": application.name, "name": cleaned["name"]}, field="name")
        if Component.objects.filter(application=application).count() >= MAX_COMPONENTS:
            raise DomainError(_("name: an application has at most %(n)s components") % {"n": MAX_COMPONENTS},
                              field="name")
        component = Component(application=application)
        _store(component, cleaned, values)
        component.save()
        audit_record(actor=actor, action="app.component.create", target=component, tenant=application.tenant,
                     after=component.audit_fields())
        notify(actor, application, "app.component.created", component=component.name)
    return component


def component_update(*, actor: Actor, component: Component, data: dict) -> Component:
    """Change some settings (the keys given; the name stays). `secret_env`, when given, is the whole
    set: {NAME: new value, or None to keep the stored one}; names left out are removed."""
    application = component.application
    authorize(actor, "manage_applications", application, action="app.component.update")
    if not isinstance(data, dict):
        raise DomainError(_("must be an object"))
    if "name" in data and data["name"] != component.name:
        raise DomainError(_("name: a component cannot be renamed (it names Kubernetes objects); "
                            "create another one"), field="name")
    with transaction.atomic():
        component = Component.objects.select_for_update().select_related("application__tenant").get(pk=component.pk)
        merged = {**settings_of(component), **{k: v for k, v in data.items() if k != "secret_env"}}
        cleaned = validation.component(merged, application_name=application.name)
        values, secret_changes = (_merge_secrets(component, data["secret_env"]) if "secret_env" in data
                                  else (None, {}))
        _check_env_names(cleaned, values if values is not None else component.secret_env_names)
        before = component.audit_fields()
        if cleaned == settings_of(component) and not secret_changes:
            return component
        _store(component, cleaned, values)
        component.save()
        old, new = diff(before, component.audit_fields())
        if secret_changes:  # names only: a changed value would otherwise look unchanged
            new["sensitive_variables_changed"] = secret_changes
        audit_record(actor=actor, action="app.component.update", target=component, tenant=application.tenant,
                     before=old, after=new)
        notify(actor, application, "app.component.updated", component=component.name)
    return component


def component_delete(*, actor: Actor, component: Component) -> None:
    application = component.application
    authorize(actor, "manage_applications", application, action="app.component.delete")
    with transaction.atomic():
        audit_record(actor=actor, action="app.component.delete", target=component, tenant=application.tenant,
                     before=component.audit_fields())
        notify(actor, application, "app.component.deleted", component=component.name)
        component.delete()
