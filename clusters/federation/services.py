"""Every write to federated resources and federated types.

Each service takes an explicit actor, checks permission (manage_applications on
the environment's tenant for resources; a platform permission for types),
validates (DomainError naming the field), and in one transaction: writes the
row, re-plans its per-cluster rows (marking them dirty), records the audit
event, and, on commit, pushes a live event and enqueues the clusters' syncs.
Asking for the state that already holds changes and records nothing.
"""
from django.db import transaction
from django.utils.translation import gettext as _
from kubernetes.client import ApiException

from clusters import kube
from clusters.crypto import CredentialsUnreadable
from paas.actors import Actor
from paas.audit.services import audit_record, diff
from paas.errors import Conflict, DomainError
from paas.permissions import authorize, authorize_platform
from paas.realtime import emit

from . import kubeio, ownership, scheduling, sensitive, validation
from .models import FederatedResource, FederatedType
from .render import namespace_for

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
SUMMED_STATUS = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
# Rollout progress a workload CRD may report (OpenKruise's CloneSet does), kept per cluster.
ROLLOUT_STATUS = ("updatedReadyReplicas", "updatedAvailableReplicas", "expectedUpdatedReplicas",
                  "currentRevision", "updateRevision")


def _notify(actor: Actor, resource: FederatedResource, kind: str) -> None:
    # Who, what, where and a link, for the toast ("alice updated federated Deployment web in acme/prod").
    emit.to_tenant(resource.tenant_id, {"type": kind, "tenant": resource.tenant.slug,
                                        "environment": resource.environment.slug, "resource": resource.pk,
                                        "kind": resource.ftype.kind, "name": resource.name,
                                        "actor": emit.actor_name(actor), "url": resource.get_absolute_url()},
                   permission="view_tenant")


def with_placeholders(ftype, *, template, overrides, stored_template=None, stored_overrides=None):
    """(template, overrides) with each "***" replaced by the value stored at the same path of the
    same stored document; a "***" where nothing secret is stored is a DomainError naming the field."""
    patterns = sensitive.patterns_for(ftype)
    if template is not None:
        template = sensitive.restore(template, stored_template, patterns)
    if overrides is not None:
        overrides = sensitive.restore_overrides(overrides, stored_overrides or [], patterns)
    return template, overrides


def validate_input(*, ftype, environment, name, template, placement, overrides):
    """(template, placement, overrides, plan, topology) — all checked. A message never carries a
    sensitive value (a validator may quote what it refuses; the value may be a restored secret)."""
    try:
        return _validate_input(ftype=ftype, environment=environment, name=name, template=template,
                               placement=placement, overrides=overrides)
    except DomainError as exc:
        values = sensitive.values_of(sensitive.patterns_for(ftype), template=template, overrides=overrides)
        exc.message = sensitive.scrub(exc.message, values)
        exc.args = (exc.message,)
        raise


def _validate_input(*, ftype, environment, name, template, placement, overrides):
    """(template, placement, overrides, plan, topology) — all checked."""
    if not ftype.enabled:
        raise DomainError(_("ftype: %(kind)s is not enabled for federation") % {"kind": ftype.kind}, field="ftype")
    if not ftype.namespaced:
        raise DomainError(_("ftype: cluster-scoped types cannot be federated into a tenant environment"),
                          field="ftype")
    template = validation.validate_template(ftype, name, template)
    topology = scheduling.topology_for(environment)
    placement = validation.validate_placement(placement, ftype, topology)
    overrides = validation.validate_overrides(overrides, topology)
    plan = scheduling.plan_for(ftype, template, placement, topology)
    validation.check_renders(ftype=ftype, template=template, overrides=overrides, plan=plan, topology=topology,
                             namespace=namespace_for(environment.tenant.slug, environment.slug))
    return template, placement, overrides, plan, topology


def federated_resource_create(*, actor: Actor, environment, ftype: FederatedType, name: str, template,
                              placement=None, overrides=None) -> FederatedResource:
    authorize(actor, "manage_applications", environment, action="federation.resource.create")
    if not name and isinstance(template, dict) and isinstance(template.get("metadata"), dict):
        name = template["metadata"].get("name", "")
    template, overrides = with_placeholders(ftype, template=template, overrides=overrides)
    template, placement, overrides, plan, topology = validate_input(
        ftype=ftype, environment=environment, name=name, template=template, placement=placement,
        overrides=overrides)
    with transaction.atomic():
        if FederatedResource.objects.filter(environment=environment, ftype=ftype, name=name).exists():
            raise Conflict(_("name: a %(kind)s named %(name)s already exists in %(env)s")
                           % {"kind": ftype.kind, "name": name, "env": environment}, field="name")
        resource = FederatedResource.objects.create(
            tenant=environment.tenant, environment=environment, ftype=ftype, name=name, template=template,
            placement=placement, overrides=overrides)
        touched = scheduling.apply_plan(resource, plan, topology)
        audit_record(actor=actor, action="federation.resource.create", target=resource,
                     after=resource.audit_fields())
        _notify(actor, resource, "federation.resource.created")
        scheduling.enqueue_sync(touched)
    return resource


def federated_resource_update(*, actor: Actor, resource: FederatedResource, template=None, placement=None,
                              overrides=None, managed_by: str | None = None) -> FederatedResource:
    """Change any of template / placement / overrides (None = keep). A resource another part of
    the platform owns (ownership.py) changes only when that owner asks (`managed_by`)."""
    authorize(actor, "manage_applications", resource, action="federation.resource.update")
    with transaction.atomic():
        resource = (FederatedResource.objects.select_for_update(of=("self",))  # not the tenant's or type's row
                    .select_related("ftype", "environment__tenant", "tenant").get(pk=resource.pk))
        if resource.deleting:
            raise Conflict(_("This resource is being deleted."))
        ownership.refuse_unless_owner(resource, managed_by)
        new_template, new_overrides = with_placeholders(
            resource.ftype, template=template, overrides=overrides, stored_template=resource.template,
            stored_overrides=resource.overrides)
        new_template = resource.template if new_template is None else new_template
        new_overrides = resource.overrides if new_overrides is None else new_overrides
        new_template, new_placement, new_overrides, plan, topology = validate_input(
            ftype=resource.ftype, environment=resource.environment, name=resource.name, template=new_template,
            placement=resource.placement if placement is None else placement, overrides=new_overrides)
        before = resource.audit_fields()
        if (new_template, new_placement, new_overrides) == (resource.template, resource.placement,
                                                            resource.overrides):
            return resource
        secrets_changed = sensitive.changed_fields(
            sensitive.patterns_for(resource.ftype), before=(resource.template, resource.overrides),
            after=(new_template, new_overrides))
        resource.template, resource.placement, resource.overrides = new_template, new_placement, new_overrides
        resource.generation += 1
        resource.save(update_fields=["template", "placement", "overrides", "generation", "updated_at"])
        touched = scheduling.apply_plan(resource, plan, topology)
        old, new = diff(before, resource.audit_fields())
        if secrets_changed:  # masked, a changed secret would look unchanged
            new["sensitive_changed"] = secrets_changed
        audit_record(actor=actor, action="federation.resource.update", target=resource, before=old, after=new)
        _notify(actor, resource, "federation.resource.updated")
        scheduling.enqueue_sync(touched)
    return resource


def federated_resource_delete(*, actor: Actor, resource: FederatedResource, managed_by: str | None = None) -> None:
    """Remove the objects from every member cluster; the row goes once they are gone. A resource
    another part of the platform owns goes only when that owner asks (`managed_by`)."""
    authorize(actor, "manage_applications", resource, action="federation.resource.delete")
    with transaction.atomic():
        resource = (FederatedResource.objects.select_for_update(of=("self",))  # not the tenant's or type's row
                    .select_related("ftype", "environment__tenant", "tenant").get(pk=resource.pk))
        if resource.deleting:
            return
        ownership.refuse_unless_owner(resource, managed_by)
        before = resource.audit_fields()
        resource.deleting = True
        resource.save(update_fields=["deleting", "updated_at"])
        touched = scheduling.apply_plan(resource, scheduling.Plan(targets={}), scheduling.topology_for(
            resource.environment))
        audit_record(actor=actor, action="federation.resource.delete", target=resource, before=before)
        _notify(actor, resource, "federation.resource.deleted")
        if not resource.propagations.exclude(state="removed").exists():
            resource.delete()  # never reached any cluster: nothing to clean up
        else:
            scheduling.enqueue_sync(touched)


# --- federated types ------------------------------------------------------------------

def _crd_type(crd: dict) -> dict:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = [v for v in spec.get("versions") or () if v.get("served")]
    version = next((v for v in versions if v.get("storage")), versions[0] if versions else None)
    if not version or not names.get("kind") or not names.get("plural"):
        raise DomainError(_("crd: the CustomResourceDefinition has no served version or names"), field="crd")
    schema = ((version.get("schema") or {}).get("openAPIV3Schema") or {}).get("properties") or {}
    status_props = ((schema.get("status") or {}).get("properties") or {})
    spec_props = ((schema.get("spec") or {}).get("properties") or {})
    scale = (version.get("subresources") or {}).get("scale") or {}
    replicas_path = (scale.get("specReplicasPath") or "").lstrip(".")
    if not replicas_path and "replicas" in spec_props:
        replicas_path = "spec.replicas"
    status_fields = [f"status.{key}" for key in (*SUMMED_STATUS, *ROLLOUT_STATUS, "conditions", "phase",
                                                 "observedGeneration") if key in status_props]
    return {"group": spec.get("group", ""), "version": version["name"], "kind": names["kind"],
            "plural": names["plural"], "namespaced": spec.get("scope", "Namespaced") == "Namespaced",
            "replicas_path": replicas_path, "status_fields": status_fields}


def federated_type_register_crd(*, actor: Actor, cluster, crd_name: str) -> FederatedType:
    """Read a CRD from a member cluster's apiextensions API and make its kind federatable."""
    target = ("federation.federatedtype", "", crd_name)
    authorize_platform(actor, "federation.add_federatedtype", target, action="federation.type.register")
    if cluster is None:
        raise DomainError(_("cluster: unknown cluster"), field="cluster")
    if not crd_name or "/" in crd_name:
        raise DomainError(_("crd: give the CRD's name, e.g. widgets.example.com"), field="crd")
    try:
        crd = kubeio.get(kube.api_client(cluster), CRD_PATH.format(name=crd_name), timeout=kubeio.INTERACTIVE_TIMEOUT)
    except (kubeio.ClusterUnreachable, CredentialsUnreadable) as exc:
        raise DomainError(_("cluster: %(c)s cannot be reached: %(e)s") % {"c": cluster.slug, "e": exc},
                          field="cluster") from None
    except ApiException as exc:
        raise DomainError(_("crd: %(e)s") % {"e": kubeio.error_text(exc)}, field="crd") from None
    if crd is None:
        raise DomainError(_("crd: no CustomResourceDefinition %(n)s in cluster %(c)s")
                          % {"n": crd_name, "c": cluster.slug}, field="crd")
    values = _crd_type(crd)
    with transaction.atomic():
        ftype = FederatedType.objects.select_for_update().filter(group=values["group"], kind=values["kind"]).first()
        if ftype is not None and ftype.source == FederatedType.Source.BUILTIN:
            raise Conflict(_("crd: %(kind)s is a built-in type") % {"kind": values["kind"]}, field="crd")
        before = ftype.audit_fields() if ftype else None
        ftype = ftype or FederatedType(source=FederatedType.Source.CRD, group=values["group"], kind=values["kind"])
        for key, value in values.items():
            setattr(ftype, key, value)
        ftype.registered_from = cluster.slug
        if before is not None and before == ftype.audit_fields():
            return ftype
        ftype.save()
        old, new = diff(before or {}, ftype.audit_fields())
        audit_record(actor=actor, action="federation.type.register", target=ftype,
                     before=old if before else None, after=new)
    return ftype


def federated_type_set_enabled(*, actor: Actor, ftype: FederatedType, enabled: bool) -> FederatedType:
    authorize_platform(actor, "federation.change_federatedtype", ftype, action="federation.type.update")
    with transaction.atomic():
        ftype = FederatedType.objects.select_for_update().get(pk=ftype.pk)
        if ftype.enabled == enabled:
            return ftype
        ftype.enabled = enabled
        ftype.save(update_fields=["enabled", "updated_at"])
        audit_record(actor=actor, action="federation.type.update", target=ftype,
                     before={"enabled": not enabled}, after={"enabled": enabled})
    return ftype


def federated_type_set_sensitive_paths(*, actor: Actor, ftype: FederatedType, paths) -> FederatedType:
    """Mark fields of a type sensitive: masked like Secret data from now on (what was shown or
    audited before stays as it was)."""
    authorize_platform(actor, "federation.change_federatedtype", ftype, action="federation.type.update")
    paths = sensitive.validate_paths(paths)
    with transaction.atomic():
        ftype = FederatedType.objects.select_for_update().get(pk=ftype.pk)
        if ftype.sensitive_paths == paths:
            return ftype
        before = list(ftype.sensitive_paths)
        ftype.sensitive_paths = paths
        ftype.save(update_fields=["sensitive_paths", "updated_at"])
        audit_record(actor=actor, action="federation.type.update", target=ftype,
                     before={"sensitive_paths": before}, after={"sensitive_paths": paths})
    return ftype
