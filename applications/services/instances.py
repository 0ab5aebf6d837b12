"""Application instances: where an application runs in an environment, and applying a revision
there directly (dev and test only; pre and prod change through releases)."""
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clusters.federation import scheduling
from clusters.federation import services as federation
from clusters.federation.models import FederatedResource, FederatedType
from paas.actors import Actor
from paas.audit.services import audit_record, diff
from paas.errors import Conflict, DomainError
from paas.permissions import authorize
from tenants.models import Environment

from .. import placement as placement_mod
from .. import pull_secrets, quota, render, secrets
from ..models import AppInstance, Application, AppRevision, InstanceResource
from ._common import notify

DIRECT_APPLY_KINDS = (Environment.Kind.DEV, Environment.Kind.TEST)


def _check_environment(application: Application, environment) -> None:
    if environment.tenant_id != application.tenant_id:
        raise DomainError(_("environment: no such environment in this tenant"), field="environment")


def instance_create(*, actor: Actor, application: Application, environment, placement=None) -> AppInstance:
    authorize(actor, "manage_applications", application, action="app.instance.create")
    _check_environment(application, environment)
    cleaned = placement_mod.clean(placement, environment)
    with transaction.atomic():
        existing = AppInstance.objects.filter(application=application, environment=environment).first()
        if existing is not None:
            if existing.placement == cleaned:
                return existing
            raise Conflict(_("environment: %(app)s already has an instance in %(env)s")
                           % {"app": application.name, "env": environment.slug}, field="environment")
        return _create(actor, application, environment, cleaned)


def _create(actor, application, environment, placement) -> AppInstance:
    instance = AppInstance.objects.create(application=application, environment=environment, placement=placement)
    audit_record(actor=actor, action="app.instance.create", target=instance, tenant=application.tenant,
                 after=instance.audit_fields())
    notify(actor, application, "app.instance.created", environment=environment.slug,
           url=instance.get_absolute_url())
    return instance


def instance_for(actor: Actor, application: Application, environment) -> AppInstance:
    """The instance in `environment`, created with the default placement (every bound cluster,
    Duplicated) when there is none yet. Call inside a transaction; the row comes locked."""
    _check_environment(application, environment)
    instance = AppInstance.objects.select_for_update().filter(application=application, environment=environment).first()
    if instance is None:
        instance = _create(actor, application, environment, placement_mod.clean({}, environment))
        instance = AppInstance.objects.select_for_update().get(pk=instance.pk)
    return instance


def instance_update(*, actor: Actor, instance: AppInstance, placement) -> AppInstance:
    """A new placement; it takes effect when a revision is next applied or released."""
    application = instance.application
    authorize(actor, "manage_applications", application, action="app.instance.update")
    cleaned = placement_mod.clean(placement, instance.environment)
    with transaction.atomic():
        instance = AppInstance.objects.select_for_update().select_related("environment").get(pk=instance.pk)
        if instance.placement == cleaned:
            return instance
        before = instance.audit_fields()
        instance.placement = cleaned
        instance.save(update_fields=["placement", "updated_at"])
        old, new = diff(before, instance.audit_fields())
        audit_record(actor=actor, action="app.instance.update", target=instance, tenant=application.tenant,
                     before=old, after=new)
        notify(actor, application, "app.instance.updated", environment=instance.environment.slug,
               url=instance.get_absolute_url())
    return instance


# --- applying a revision -------------------------------------------------------------------

def _types(desired: list[render.Desired], spec: dict) -> dict[tuple[str, str], FederatedType]:
    wanted = {(d.group, d.kind) for d in desired}
    found = {(t.group, t.kind): t for t in FederatedType.objects.filter(enabled=True, namespaced=True)
             if (t.group, t.kind) in wanted}
    for i, component in enumerate(spec.get("components", [])):
        if component.get("workload_kind") == "cloneset" and (render.CLONESET_GROUP, "CloneSet") not in found:
            raise DomainError(_("components[%(i)s].workload_kind: no enabled federated type for CloneSet "
                                "(apps.kruise.io/v1alpha1): a platform operator must register OpenKruise's CRD "
                                "from a member cluster first, or use a Deployment") % {"i": i},
                              field=f"components[{i}].workload_kind", code="cloneset_unavailable")
    for group, kind in wanted:
        if (group, kind) not in found:
            raise DomainError(_("%(kind)s is not enabled for federation; ask a platform operator") % {"kind": kind})
    return found


def _context(instance: AppInstance, revision: AppRevision, *, traffic_hooks: bool = True,
             partition: int | str = 0) -> render.Context:
    pinned = [c["image"] for c in revision.spec.get("components", [])]
    return render.Context(application=instance.application.name, instance_id=instance.pk, revision=revision.number,
                          environment_kind=instance.environment.kind, placement=instance.placement,
                          secret_values=secrets.unseal(revision.secret_values),
                          pull_auths=pull_secrets.auths_for_instance(instance, pinned),
                          partition=partition, traffic_hooks=traffic_hooks)


def _create_owned(actor, instance, revision, desired, ftype) -> None:
    existing = FederatedResource.objects.filter(environment=instance.environment, ftype=ftype, name=desired.name).first()
    if existing is not None:
        if existing.deleting:
            raise Conflict(_("%(kind)s %(name)s is still being removed from the clusters; apply again in a moment")
                           % {"kind": desired.kind, "name": desired.name})
        raise Conflict(_("%(kind)s %(name)s already exists in %(env)s and is not managed by %(app)s: rename the "
                         "component or remove that resource") % {"kind": desired.kind, "name": desired.name,
                                                                  "env": instance.environment,
                                                                  "app": instance.application.name})
    resource = federation.federated_resource_create(
        actor=actor, environment=instance.environment, ftype=ftype, name=desired.name, template=desired.template,
        placement=desired.placement)
    InstanceResource.objects.create(instance=instance, resource=resource, component=desired.component,
                                    role=desired.role, revision=revision)


def _reconcile(actor, instance: AppInstance, revision: AppRevision, *, traffic_hooks: bool = True,
               partition: int | str = 0) -> bool:
    """Bring the instance's FederatedResources to what the revision renders; True if anything changed.
    New and changed objects first, then the ones no longer wanted (old ConfigMaps go last).
    ``traffic_hooks``/``partition``: the CloneSets' lifecycle hooks and partition (render.Context)."""
    desired = render.objects(_context(instance, revision, traffic_hooks=traffic_hooks, partition=partition),
                             revision.spec)
    ftypes = _types(desired, revision.spec)
    links = {(link.resource.ftype_id, link.resource.name): link
             for link in instance.resource_links.select_related("resource__ftype")}
    changed = False
    for item in desired:
        ftype = ftypes[(item.group, item.kind)]
        link = links.pop((ftype.pk, item.name), None)
        if link is None:
            _create_owned(actor, instance, revision, item, ftype)
            changed = True
            continue
        generation = link.resource.generation
        resource = federation.federated_resource_update(
            actor=actor, resource=link.resource, template=item.template, placement=item.placement,
            managed_by=instance.owner_key)
        if resource.generation != generation or link.revision_id != revision.pk:
            changed = changed or resource.generation != generation
            link.revision = revision
            link.save(update_fields=["revision"])
    for link in links.values():
        federation.federated_resource_delete(actor=actor, resource=link.resource, managed_by=instance.owner_key)
        link.delete()
        changed = True
    return changed


def _refuse_while_releasing(instance: AppInstance) -> None:
    """A release owns the instance's clusters until it ends: applying beside it would fight it."""
    from releases.services import active_release

    release = active_release(instance)
    if release is not None:
        raise Conflict(_("instance: release %(n)s is %(state)s in %(env)s; wait for it, abort or roll it back first")
                       % {"n": release.number, "state": release.get_state_display().lower(),
                          "env": instance.environment.slug}, field="instance", code="release_active")


def may_apply_directly(actor: Actor, environment, instance: AppInstance | None) -> bool:
    """What instance_apply_revision allows, for the pages' Apply buttons: any time in dev and test;
    in pre and prod only the first install, by someone who may release there."""
    from paas.permissions import can

    if not can(actor, "release_application", environment):
        return False
    if environment.kind in DIRECT_APPLY_KINDS:
        return True
    return (instance is None or instance.baseline_id is None) and can(actor, "release_protected", environment)


def instance_apply_revision(*, actor: Actor, instance: AppInstance, revision: AppRevision) -> AppInstance:
    """Deploy `revision` to the instance's clusters through federation; it becomes the baseline.
    In dev and test at any time. In pre and prod only as the first install (nothing runs there yet,
    so there is nothing to gray-release; it needs release_protected); every later change of pre and
    prod goes through a release."""
    environment = instance.environment
    authorize(actor, "release_application", environment, action="app.instance.apply")
    direct = environment.kind in DIRECT_APPLY_KINDS
    if not direct:
        if instance.baseline_id is not None:
            raise DomainError(_("environment: %(env)s is a %(kind)s environment: use a release to change it")
                              % {"env": environment, "kind": environment.get_kind_display()},
                              field="environment", code="release_required")
        authorize(actor, "release_protected", environment, action="app.instance.apply")
    if revision.application_id != instance.application_id or revision.environment_id != environment.pk:
        raise DomainError(_("revision: revision %(n)s is not one of this instance's revisions")
                          % {"n": revision.number}, field="revision")
    with transaction.atomic():
        instance = (AppInstance.objects.select_for_update(of=("self",))
                    .select_related("application__tenant", "environment__tenant").get(pk=instance.pk))
        _refuse_while_releasing(instance)
        if not direct and instance.baseline_id is not None:  # installed meanwhile: now it takes a release
            raise Conflict(_("environment: %(env)s already runs revision %(n)s: use a release to change it")
                           % {"env": environment, "n": instance.baseline.number}, field="environment",
                           code="release_required")
        topology = scheduling.topology_for(environment)
        quota.check(environment=instance.environment, spec=revision.spec, placement=instance.placement,
                    instance=instance, topology=topology)
        # In dev and test no release engine takes pods out of traffic later (revisions are applied
        # directly), so CloneSets go without traffic hooks; a first install in pre/prod gets them,
        # because the releases that follow drive them.
        changed = _reconcile(actor, instance, revision, traffic_hooks=not direct)
        if not changed and instance.baseline_id == revision.pk:
            return instance
        before = instance.audit_fields()
        instance.baseline, instance.state, instance.applied_at = revision, AppInstance.State.DEPLOYED, timezone.now()
        if instance.target_id == revision.pk:
            instance.target = None
        instance.save(update_fields=["baseline", "state", "applied_at", "target", "updated_at"])
        old, new = diff(before, instance.audit_fields())
        audit_record(actor=actor, action="app.instance.apply", target=instance, tenant=instance.application.tenant,
                     before=old, after={**new, "revision": revision.number})
        notify(actor, instance.application, "app.instance.applied", environment=environment.slug,
               revision=revision.number, url=instance.get_absolute_url())
    return instance
