"""What every application service shares: live events and small checks."""
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.errors import DomainError
from paas.realtime import emit

MAX_LABELS = 50


def notify(actor: Actor, application, kind: str, **extra) -> None:
    """A live event to the application's tenant, after commit ("alice created revision 3 of payments-api")."""
    url = extra.pop("url") if "url" in extra else application.get_absolute_url()
    payload = {"type": kind, "tenant": application.tenant.slug, "application": application.pk,
               "name": application.name, "actor": emit.actor_name(actor), "url": url, **extra}
    emit.to_tenant(application.tenant_id, payload, permission="view_tenant")


def clean_labels(labels) -> dict:
    if labels in (None, ""):
        return {}
    if not isinstance(labels, dict) or len(labels) > MAX_LABELS:
        raise DomainError(_("labels: must map at most %(n)s names to string values") % {"n": MAX_LABELS},
                          field="labels")
    for key, value in labels.items():
        if not isinstance(key, str) or not 0 < len(key) <= 63 or not isinstance(value, str) or len(value) > 200:
            raise DomainError(_("labels.%(key)s: names are 1-63 characters, values strings of at most 200")
                              % {"key": key}, field=f"labels.{key}")
    return dict(labels)
