"""Revisions: created from the components (or an explicit spec) with every image pinned to a
digest that exists, checked against the environment's quota (and, for prod, the platform's build
provenance); promoted unchanged from one environment to the next; compared field by field."""
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from paas.actors import Actor
from paas.audit.services import audit_record
from paas.errors import DomainError
from paas.permissions import authorize
from tenants.models import Environment

from .. import images, quota, secrets, validation
from .. import spec as spec_mod
from ..models import Application, AppRevision, Component
from ._common import notify
from .components import MAX_COMPONENTS, settings_of
from .instances import instance_for

# Promotion moves one step along the pipeline.
NEXT_KIND = {Environment.Kind.DEV: Environment.Kind.TEST, Environment.Kind.TEST: Environment.Kind.PRE,
             Environment.Kind.PRE: Environment.Kind.PROD}


def _from_components(application: Application) -> tuple[list[dict], dict]:
    components = list(application.components.order_by("name"))
    if not components:
        raise DomainError(_("components: %(app)s has no components yet") % {"app": application.name},
                          field="components")
    cleaned = [validation.component(settings_of(c), application_name=application.name,
                                    prefix=f"components[{i}].") for i, c in enumerate(components)]
    return cleaned, {c.name: secrets.unseal(c.secret_env) for c in components}


def _from_spec(application: Application, given) -> tuple[list[dict], dict]:
    if not isinstance(given, dict) or not isinstance(given.get("components"), list) or not given["components"]:
        raise DomainError(_("spec.components: give a non-empty list of components"), field="spec.components")
    if len(given["components"]) > MAX_COMPONENTS:
        raise DomainError(_("spec.components: at most %(n)s components") % {"n": MAX_COMPONENTS},
                          field="spec.components")
    extra = sorted(set(given) - {"components"})
    if extra:
        raise DomainError(_("spec.%(key)s: unknown field") % {"key": extra[0]}, field=f"spec.{extra[0]}")
    cleaned, names = [], set()
    for i, item in enumerate(given["components"]):
        if isinstance(item, dict) and "secret_env" in item:
            raise DomainError(_("components[%(i)s].secret_env: secret values are never part of a spec; set them on "
                                "the component") % {"i": i}, field=f"components[{i}].secret_env")
        component = validation.component(item, application_name=application.name, prefix=f"components[{i}].")
        if component["name"] in names:
            raise DomainError(_("components[%(i)s].name: used twice") % {"i": i}, field=f"components[{i}].name")
        names.add(component["name"])
        cleaned.append(component)
    # Secret env is by reference: a component named like an existing one takes its stored values.
    stored = {c.name: secrets.unseal(c.secret_env) for c in Component.objects.filter(application=application,
                                                                                      name__in=names)}
    return cleaned, stored


def _require_provenance(tenant, spec: dict) -> None:
    for i, pinned in enumerate(spec_mod.images(spec)):
        if not images.has_provenance(tenant, pinned):
            raise DomainError(_("components[%(i)s].image: %(image)s was not built by the platform (no build "
                                "provenance is held for it); prod accepts only images built here")
                              % {"i": i, "image": pinned}, field=f"components[{i}].image", code="provenance_required")


def _next_number(application, environment) -> int:
    last = AppRevision.objects.filter(application=application, environment=environment).aggregate(n=Max("number"))
    return (last["n"] or 0) + 1


def revision_create(*, actor: Actor, application: Application, environment, spec=None, build=None,
                    comment: str = "") -> AppRevision:
    """A new revision for `environment` from the components' current settings (or `spec`). Returns the
    latest revision instead when it already has exactly this spec (`created` tells which)."""
    authorize(actor, "manage_applications", application, action="app.revision.create")
    tenant = application.tenant
    if environment.tenant_id != tenant.pk:
        raise DomainError(_("environment: no such environment in this tenant"), field="environment")
    if build is not None and (build.application_id != application.pk or build.state != build.State.SUCCEEDED):
        raise DomainError(_("build: not a succeeded build of this application"), field="build")
    comment = (comment or "").strip()
    if len(comment) > 200:
        raise DomainError(_("comment: at most 200 characters"), field="comment")
    cleaned, stored = _from_components(application) if spec is None else _from_spec(application, spec)
    order = {c["name"]: i for i, c in enumerate(cleaned)}
    pinned = {c["name"]: images.resolve(tenant, c["image"], f"components[{order[c['name']]}].image") for c in cleaned}
    values = {c["name"]: stored.get(c["name"], {}) for c in cleaned}
    components = [spec_mod.component_spec(c, image=pinned[c["name"]], secret_values=values[c["name"]])
                  for c in cleaned]
    new_spec = spec_mod.build(components)
    if environment.kind == Environment.Kind.PROD:
        _require_provenance(tenant, new_spec)
    digest = spec_mod.spec_hash(new_spec)
    with transaction.atomic():
        instance = instance_for(actor, application, environment)  # locked: numbers are taken one at a time
        latest = (AppRevision.objects.filter(application=application, environment=environment)
                  .order_by("-number").first())
        if latest is not None and latest.spec_hash == digest:
            latest.created = False
            return latest
        quota.check(environment=environment, spec=new_spec, placement=instance.placement, instance=instance)
        revision = AppRevision(
            application=application, environment=environment, number=_next_number(application, environment),
            spec=new_spec, spec_hash=digest, secret_values=secrets.seal({k: v for k, v in values.items() if v}),
            build=build or images.build_for(tenant, spec_mod.images(new_spec)), comment=comment,
            created_by=actor.user)
        revision.save()
        audit_record(actor=actor, action="app.revision.create", target=revision, tenant=tenant,
                     after=revision.audit_fields())
        notify(actor, application, "app.revision.created", environment=environment.slug, revision=revision.number,
               url=revision.get_absolute_url())
    revision.created = True
    return revision


def revision_promote(*, actor: Actor, revision: AppRevision, environment) -> AppRevision:
    """Copy `revision` unchanged (same spec, same digests, same secret values) to the next
    environment of the pipeline: dev -> test -> pre -> prod."""
    application = revision.application
    authorize(actor, "manage_applications", application, action="app.revision.promote")
    source = revision.environment
    if environment.tenant_id != application.tenant_id:
        raise DomainError(_("environment: no such environment in this tenant"), field="environment")
    if NEXT_KIND.get(source.kind) != environment.kind:
        raise DomainError(_("environment: a %(from)s revision is promoted to a %(to)s environment next, one step "
                            "at a time (dev -> test -> pre -> prod)")
                          % {"from": source.kind, "to": NEXT_KIND.get(source.kind, "—")}, field="environment",
                          code="promotion_order")
    if environment.kind == Environment.Kind.PROD:
        _require_provenance(application.tenant, revision.spec)
    with transaction.atomic():
        instance = instance_for(actor, application, environment)
        latest = (AppRevision.objects.filter(application=application, environment=environment)
                  .order_by("-number").first())
        if latest is not None and latest.spec_hash == revision.spec_hash and latest.promoted_from_id == revision.pk:
            latest.created = False
            return latest
        quota.check(environment=environment, spec=revision.spec, placement=instance.placement, instance=instance)
        copy = AppRevision(application=application, environment=environment,
                           number=_next_number(application, environment), spec=revision.spec,
                           spec_hash=revision.spec_hash, secret_values=bytes(revision.secret_values or b""),
                           build=revision.build or images.build_for(application.tenant, spec_mod.images(revision.spec)),
                           promoted_from=revision, comment=revision.comment,
                           created_by=actor.user)
        copy.save()
        audit_record(actor=actor, action="app.revision.promote", target=copy, tenant=application.tenant,
                     after={**copy.audit_fields(), "from": f"{source.slug} r{revision.number}"})
        notify(actor, application, "app.revision.promoted", environment=environment.slug, revision=copy.number,
               url=copy.get_absolute_url())
    copy.created = True
    return copy


def revision_diff(before: AppRevision | None, after: AppRevision) -> list[dict]:
    """Field by field, [{path, before, after}]; secret env shows names and fingerprints, never values."""
    return spec_mod.diff(before.spec if before is not None else {}, after.spec)
