"""Traffic providers of an instance: how its pods leave and rejoin traffic during a release.

Changing them is part of releasing into the environment (release_application, plus
release_protected for pre and prod). A webhook's signing secret is write-only: sealed with the
applications' Fernet key (applications/secrets.py), never shown, never audited (only whether
one is set).

`config` is a small flat object whose keys the executor's provider reads (releases/engine/traffic),
each with a default derived from the instance:
  registry: {"service": "payments-api.acme-prod"}; load_balancer: {"loadbalancer": "acme-prod.payments-api-api",
  "weight": 100}; dns: {"zone": "paas.local", "record": "payments-api-api.acme-prod"}; webhook: {};
  any kind: {"generator": "<request generator name>"} to sample its success ratio during a release.
"""
import re
from urllib.parse import urlsplit

from django.db import transaction
from django.utils.translation import gettext as _

from applications import secrets
from applications.models import AppInstance
from paas.actors import Actor
from paas.audit.services import audit_record, diff
from paas.errors import Conflict, DomainError

from ..models import TrafficProvider
from ._common import authorize_release

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
MAX_CONFIG_KEYS = 20
MAX_PROVIDERS = 20


def _name(value) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise DomainError(_("name: use 1-63 lowercase letters, digits and dashes"), field="name")
    return value


def _kind(value) -> str:
    if value not in TrafficProvider.Kind.values:
        raise DomainError(_("kind: must be one of: %(kinds)s") % {"kinds": ", ".join(TrafficProvider.Kind.values)},
                          field="kind")
    return value


def _url(value) -> str:
    if not isinstance(value, str) or not value or len(value) > 500:
        raise DomainError(_("url: give an http(s) URL of at most 500 characters"), field="url")
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError:  # e.g. "http://[::1": unbalanced brackets
        parts, hostname = None, None
    if parts is None or parts.scheme not in ("http", "https") or not hostname or parts.username or parts.password:
        raise DomainError(_("url: must be an http(s) URL without credentials (a webhook signs with its secret)"),
                          field="url")
    return value


def _config(value) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or len(value) > MAX_CONFIG_KEYS:
        raise DomainError(_("config: an object of at most %(n)s settings") % {"n": MAX_CONFIG_KEYS}, field="config")
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= 63 or not re.match(r"^[A-Za-z0-9_.-]+$", key):
            raise DomainError(_("config: setting names are 1-63 letters, digits, '_', '.' or '-'"), field="config")
        ok = isinstance(item, bool | int) or (isinstance(item, str) and len(item) <= 500 and "\x00" not in item)
        if not ok or (isinstance(item, int) and not isinstance(item, bool) and abs(item) > 10**9):
            raise DomainError(_("config.%(key)s: a string (at most 500 characters), a number or true/false")
                              % {"key": key}, field=f"config.{key}")
    return dict(value)


def _secret(value) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 16 <= len(value) <= 500:
        raise DomainError(_("secret: 16 to 500 characters"), field="secret")
    return secrets.seal({"secret": value})


def provider_secret(provider: TrafficProvider) -> str:
    """The webhook's signing secret in clear, for the executor only."""
    return secrets.unseal(provider.secret).get("secret", "") if provider.secret else ""


def traffic_provider_create(*, actor: Actor, instance: AppInstance, kind, name, url, config=None, secret=None,
                            enabled: bool = True) -> TrafficProvider:
    authorize_release(actor, instance.environment, action="release.traffic_provider.create")
    kind, name, url, config = _kind(kind), _name(name), _url(url), _config(config)
    sealed = _secret(secret)
    if kind == TrafficProvider.Kind.WEBHOOK and sealed is None:
        raise DomainError(_("secret: a webhook needs a signing secret"), field="secret")
    with transaction.atomic():
        AppInstance.objects.select_for_update().get(pk=instance.pk)
        if instance.traffic_providers.filter(name=name).exists():
            raise Conflict(_("name: %(name)s is already a traffic provider of this instance") % {"name": name},
                           field="name")
        if instance.traffic_providers.count() >= MAX_PROVIDERS:
            raise Conflict(_("name: at most %(n)s traffic providers per instance") % {"n": MAX_PROVIDERS},
                           field="name")
        provider = TrafficProvider.objects.create(instance=instance, kind=kind, name=name, url=url, config=config,
                                                  secret=sealed, enabled=bool(enabled))
        audit_record(actor=actor, action="release.traffic_provider.create", target=provider, tenant=instance.tenant,
                     after=provider.audit_fields())
    return provider


def traffic_provider_update(*, actor: Actor, provider: TrafficProvider, **changes) -> TrafficProvider:
    """Change url, config, enabled or the secret (kind and name stay)."""
    instance = provider.instance
    authorize_release(actor, instance.environment, action="release.traffic_provider.update")
    unknown = sorted(set(changes) - {"url", "config", "secret", "enabled"})
    if unknown:
        raise DomainError(_("%(field)s: cannot be changed") % {"field": unknown[0]}, field=unknown[0])
    cleaned = {}
    if "url" in changes:
        cleaned["url"] = _url(changes["url"])
    if "config" in changes:
        cleaned["config"] = _config(changes["config"])
    if "enabled" in changes:
        if not isinstance(changes["enabled"], bool):
            raise DomainError(_("enabled: true or false"), field="enabled")
        cleaned["enabled"] = changes["enabled"]
    if changes.get("secret") is not None:
        cleaned["secret"] = _secret(changes["secret"])
    with transaction.atomic():
        provider = TrafficProvider.objects.select_for_update().select_related("instance").get(pk=provider.pk)
        before = provider.audit_fields()
        for key, value in cleaned.items():
            setattr(provider, key, value)
        if not cleaned:
            return provider
        provider.save()
        old, new = diff(before, provider.audit_fields())
        if "secret" in cleaned:
            new["secret_changed"] = True
        audit_record(actor=actor, action="release.traffic_provider.update", target=provider, tenant=instance.tenant,
                     before=old, after=new)
    return provider


def traffic_provider_delete(*, actor: Actor, provider: TrafficProvider) -> None:
    instance = provider.instance
    authorize_release(actor, instance.environment, action="release.traffic_provider.delete")
    with transaction.atomic():
        audit_record(actor=actor, action="release.traffic_provider.delete", target=provider, tenant=instance.tenant,
                     before=provider.audit_fields())
        provider.delete()
