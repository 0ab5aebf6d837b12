"""Every write to the cluster registry: topology (regions, zones, cells), clusters,
disaster-recovery drills (cordon, failed cells and zones), stop switches and the
bindings of tenant environments to cells or clusters.

Same shape as tenants.services: an explicit actor, the platform permission checked
first (a denial is audited), then one transaction holding the change, its audit event
and the call that tells the federation engine (clusters.federation.hooks) about
anything that can move workloads; live events go out after commit. Services are
idempotent: asking for the state that already holds changes and records nothing.
A kubeconfig is validated, probed, encrypted and stored; it never reaches an audit
row, a log line, an error message or a live event.
"""
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from clusters.federation import hooks
from paas.actors import Actor
from paas.audit.services import audit_record, diff
from paas.errors import Conflict, DomainError
from paas.permissions import authorize_platform
from paas.realtime import emit

from . import kube, validation
from .crypto import decrypt, encrypt
from .models import Cell, Cluster, EnvironmentBinding, PlatformSwitch, Region, Zone

logger = logging.getLogger(__name__)


# --- helpers -------------------------------------------------------------------

def _validate(instance, exclude=None):
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(messages[0], field=None if field == "__all__" else field) from exc


def _perm(model, verb: str) -> str:
    return f"clusters.{verb}_{model._meta.model_name}"


def _tenants_bound(q: Q) -> list[int]:
    return list(EnvironmentBinding.objects.filter(q).values_list("environment__tenant_id", flat=True).distinct())


def _bound_to(obj) -> Q:
    """Bindings whose clusters include (some of) `obj`."""
    if isinstance(obj, Cluster):
        return Q(cluster=obj) | Q(cell_id=obj.cell_id)
    if isinstance(obj, Cell):
        return Q(cell=obj) | Q(cluster__cell=obj)
    return Q(cell__zone=obj) | Q(cluster__cell__zone=obj)


def _notify(actor: Actor, tenant_ids, kind: str, payload: dict) -> None:
    payload = {"type": kind, "actor": emit.actor_name(actor), **payload}  # the actor, for the toast
    for tenant_id in tenant_ids:
        emit.to_tenant(tenant_id, payload, permission="view_tenant")


def _url_of(obj) -> str:
    if isinstance(obj, Cluster):
        return obj.get_absolute_url()
    return reverse("clusters:cell" if isinstance(obj, Cell) else "clusters:zone", kwargs={"slug": obj.slug})


def _add_worker_queue(queue: str) -> None:
    """Ask running workers to consume a new cell's queue (no worker: nothing happens)."""
    try:
        from paas.celery import app

        app.control.add_consumer(queue, reply=False)
    except Exception:  # a broker outage must not undo a committed cell
        logger.warning("could not ask workers to consume %s", queue, exc_info=True)


# --- regions, zones, cells -----------------------------------------------------

def _topology_create(actor: Actor, model, action: str, **fields):
    fields["slug"] = (fields.get("slug") or "").strip().lower()
    authorize_platform(actor, _perm(model, "add"), (model._meta.label_lower, "", fields["slug"]), action=action)
    obj = model(**{**fields, "name": (fields.get("name") or "").strip(),
                   "labels": validation.clean_labels(fields.get("labels"))})
    _validate(obj)
    with transaction.atomic():
        if model.objects.filter(slug=obj.slug).exists():
            raise Conflict(_("A %(kind)s with the slug “%(slug)s” already exists.")
                           % {"kind": model._meta.verbose_name, "slug": obj.slug}, field="slug")
        obj.save()
        audit_record(actor=actor, action=action, target=obj, after=obj.audit_fields())
    return obj


def _topology_update(actor: Actor, obj, action: str, allowed: set, fields: dict):
    authorize_platform(actor, _perm(type(obj), "change"), obj, action=action)
    unknown = set(fields) - allowed
    if unknown:
        raise DomainError(_("These fields cannot be changed: %(fields)s.") % {"fields": ", ".join(sorted(unknown))})
    if "labels" in fields:
        fields["labels"] = validation.clean_labels(fields["labels"])
    if isinstance(fields.get("name"), str):
        fields["name"] = fields["name"].strip()
    with transaction.atomic():
        obj = type(obj).objects.select_for_update().get(pk=obj.pk)
        before = obj.audit_fields()
        for key, value in fields.items():
            setattr(obj, key, value)
        _validate(obj, exclude=["credentials"])
        old, new = diff(before, obj.audit_fields())
        if new:
            obj.save()
            audit_record(actor=actor, action=action, target=obj, before=old, after=new)
            if set(new) & {"labels", "cell", "weight"}:
                hooks.topology_changed(actor=actor, reason=f"{type(obj)._meta.model_name} {obj.slug} changed")
    return obj, new


def _topology_delete(actor: Actor, obj, action: str, children, message: str) -> None:
    authorize_platform(actor, _perm(type(obj), "delete"), obj, action=action)
    with transaction.atomic():
        if children.exists():
            raise Conflict(message)
        audit_record(actor=actor, action=action, target=obj, before=obj.audit_fields())
        obj.delete()


def region_create(*, actor: Actor, name: str, slug: str, labels=None, description: str = "") -> Region:
    return _topology_create(actor, Region, "topology.region.create", name=name, slug=slug, labels=labels,
                            description=description)


def region_update(*, actor: Actor, region: Region, **fields) -> Region:
    return _topology_update(actor, region, "topology.region.update", {"name", "labels", "description"}, fields)[0]


def region_delete(*, actor: Actor, region: Region) -> None:
    _topology_delete(actor, region, "topology.region.delete", region.zones.all(),
                     _("Region “%(name)s” still has zones; delete them first.") % {"name": region.name})


def zone_create(*, actor: Actor, region: Region, name: str, slug: str, labels=None) -> Zone:
    return _topology_create(actor, Zone, "topology.zone.create", region=region, name=name, slug=slug, labels=labels)


def zone_update(*, actor: Actor, zone: Zone, **fields) -> Zone:
    return _topology_update(actor, zone, "topology.zone.update", {"name", "labels"}, fields)[0]


def zone_delete(*, actor: Actor, zone: Zone) -> None:
    _topology_delete(actor, zone, "topology.zone.delete", zone.cells.all(),
                     _("Zone “%(name)s” still has cells; delete them first.") % {"name": zone.name})


def cell_create(*, actor: Actor, zone: Zone, name: str, slug: str, labels=None) -> Cell:
    cell = _topology_create(actor, Cell, "topology.cell.create", zone=zone, name=name, slug=slug, labels=labels)
    transaction.on_commit(lambda: _add_worker_queue(cell.queue))
    return cell


def cell_update(*, actor: Actor, cell: Cell, **fields) -> Cell:
    return _topology_update(actor, cell, "topology.cell.update", {"name", "labels"}, fields)[0]


def cell_delete(*, actor: Actor, cell: Cell) -> None:
    _topology_delete(actor, cell, "topology.cell.delete", cell.clusters.all(),
                     _("Cell “%(name)s” still has clusters; move or remove them first.") % {"name": cell.name})


# --- failed cells and zones, cordon, per-cluster stop switch -----------------------

def _set_flag(*, actor: Actor, obj, field: str, value: bool, perm: str, action: str, reason: str, after):
    """Set one boolean; audit, tell federation (`after(obj)`) and notify only when it changes."""
    authorize_platform(actor, perm, obj, action=action)
    with transaction.atomic():
        obj = type(obj).objects.select_for_update().get(pk=obj.pk)
        if getattr(obj, field) == value:
            return obj
        setattr(obj, field, value)
        obj.save()
        audit_record(actor=actor, action=action, target=obj, before={field: not value}, after={field: value},
                     reason=(reason or "").strip())
        after(obj)
        _notify(actor, _tenants_bound(_bound_to(obj)), action,
                {"name": obj.name, "slug": obj.slug, field: value, "url": _url_of(obj)})
    return obj


def _replan(actor: Actor, what: str):
    return lambda obj: hooks.topology_changed(actor=actor, reason=f"{type(obj)._meta.model_name} {obj.slug} {what}")


def cluster_cordon(*, actor: Actor, cluster: Cluster, reason: str = "") -> Cluster:
    return _set_flag(actor=actor, obj=cluster, field="cordoned", value=True, perm="clusters.cordon_cluster",
                     action="cluster.cordon", reason=reason, after=_replan(actor, "cordoned"))


def cluster_uncordon(*, actor: Actor, cluster: Cluster, reason: str = "") -> Cluster:
    return _set_flag(actor=actor, obj=cluster, field="cordoned", value=False, perm="clusters.cordon_cluster",
                     action="cluster.uncordon", reason=reason, after=_replan(actor, "uncordoned"))


def cell_mark_failed(*, actor: Actor, cell: Cell, reason: str = "") -> Cell:
    return _set_flag(actor=actor, obj=cell, field="failed", value=True, perm="clusters.mark_cell_failed",
                     action="topology.cell.mark_failed", reason=reason, after=_replan(actor, "failed"))


def cell_mark_recovered(*, actor: Actor, cell: Cell, reason: str = "") -> Cell:
    return _set_flag(actor=actor, obj=cell, field="failed", value=False, perm="clusters.mark_cell_failed",
                     action="topology.cell.mark_recovered", reason=reason, after=_replan(actor, "recovered"))


def zone_mark_failed(*, actor: Actor, zone: Zone, reason: str = "") -> Zone:
    return _set_flag(actor=actor, obj=zone, field="failed", value=True, perm="clusters.mark_zone_failed",
                     action="topology.zone.mark_failed", reason=reason, after=_replan(actor, "failed"))


def zone_mark_recovered(*, actor: Actor, zone: Zone, reason: str = "") -> Zone:
    return _set_flag(actor=actor, obj=zone, field="failed", value=False, perm="clusters.mark_zone_failed",
                     action="topology.zone.mark_recovered", reason=reason, after=_replan(actor, "recovered"))


def cluster_pause_propagation(*, actor: Actor, cluster: Cluster, reason: str = "") -> Cluster:
    # Pausing needs no re-plan: the federation engine reads the flag before every push.
    return _set_flag(actor=actor, obj=cluster, field="propagation_paused", value=True,
                     perm="clusters.pause_propagation", action="cluster.propagation.pause", reason=reason,
                     after=lambda obj: None)


def cluster_resume_propagation(*, actor: Actor, cluster: Cluster, reason: str = "") -> Cluster:
    return _set_flag(actor=actor, obj=cluster, field="propagation_paused", value=False,
                     perm="clusters.pause_propagation", action="cluster.propagation.resume", reason=reason,
                     after=lambda obj: hooks.cluster_switch_changed(actor=actor, cluster=obj))


# --- clusters ------------------------------------------------------------------

def _server_taken(server: str, exclude_pk=None):
    return Cluster.objects.filter(server=server).exclude(pk=exclude_pk).first()


def cluster_register(*, actor: Actor, cell: Cell, name: str, slug: str, kubeconfig_text: str, labels=None,
                     weight: int = 1, probe: bool = True) -> Cluster:
    """Register a cluster from a kubeconfig; with `probe`, only if its API answers these credentials."""
    slug = (slug or "").strip().lower()
    authorize_platform(actor, "clusters.add_cluster", ("clusters.cluster", "", slug), action="cluster.register")
    if cell is None:
        raise DomainError(_("Choose the cell the cluster belongs to."), field="cell")
    parsed = validation.parse(kubeconfig_text)
    cluster = Cluster(cell=cell, name=(name or "").strip(), slug=slug, server=parsed.server, weight=weight,
                      labels=validation.clean_labels(labels))
    _validate(cluster, exclude=["credentials"])
    if Cluster.objects.filter(slug=slug).exists():
        raise Conflict(_("A cluster with the slug “%(slug)s” already exists.") % {"slug": slug}, field="slug")
    other = _server_taken(parsed.server)
    if other is not None:
        raise Conflict(_("The API server %(server)s is already registered as “%(name)s”.")
                       % {"server": parsed.server, "name": other.name}, field="kubeconfig")
    if probe:
        cluster.kube_version = validation.probe(parsed, name=slug)
    cluster.credentials = encrypt(validation.stored_text(parsed))
    with transaction.atomic():
        if Cluster.objects.filter(slug=slug).exists():  # registered meanwhile
            raise Conflict(_("A cluster with the slug “%(slug)s” already exists.") % {"slug": slug}, field="slug")
        cluster.save()
        audit_record(actor=actor, action="cluster.register", target=cluster, after=cluster.audit_fields())
        hooks.topology_changed(actor=actor, reason=f"cluster {slug} registered")
        _notify(actor, _tenants_bound(_bound_to(cluster)), "cluster.registered",
                {"name": cluster.name, "slug": slug, "url": cluster.get_absolute_url()})
    return cluster


def cluster_update(*, actor: Actor, cluster: Cluster, **fields) -> Cluster:
    """Change name, labels, default weight or cell; placement is re-planned when it can move."""
    if "weight" in fields and fields["weight"] is not None:
        fields["weight"] = int(fields["weight"])
    return _topology_update(actor, cluster, "cluster.update", {"name", "labels", "weight", "cell"}, fields)[0]


def cluster_replace_credentials(*, actor: Actor, cluster: Cluster, kubeconfig_text: str,
                                probe: bool = True) -> Cluster:
    """Store new credentials (e.g. a rotated token); the same kubeconfig again changes nothing."""
    authorize_platform(actor, "clusters.change_cluster", cluster, action="cluster.credentials.replace")
    parsed = validation.parse(kubeconfig_text)
    text = validation.stored_text(parsed)
    other = _server_taken(parsed.server, exclude_pk=cluster.pk)
    if other is not None:
        raise Conflict(_("The API server %(server)s is already registered as “%(name)s”.")
                       % {"server": parsed.server, "name": other.name}, field="kubeconfig")
    try:
        unchanged = decrypt(cluster.credentials) == text
    except Exception:  # unreadable with today's key: replacing them is exactly the fix
        unchanged = False
    if unchanged:
        return cluster
    version = validation.probe(parsed, name=cluster.slug) if probe else None
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
        before = {"server": cluster.server}
        cluster.server, cluster.credentials = parsed.server, encrypt(text)
        if version is not None:
            cluster.kube_version = version
        cluster.save()
        audit_record(actor=actor, action="cluster.credentials.replace", target=cluster, before=before,
                     after={"server": cluster.server})
    return cluster


def cluster_remove(*, actor: Actor, cluster: Cluster) -> None:
    authorize_platform(actor, "clusters.delete_cluster", cluster, action="cluster.remove")
    with transaction.atomic():
        tenants = _tenants_bound(_bound_to(cluster))
        audit_record(actor=actor, action="cluster.remove", target=cluster, before=cluster.audit_fields())
        name, slug, cluster_id = cluster.name, cluster.slug, cluster.pk
        try:
            with transaction.atomic():
                cluster.delete()
        except ProtectedError:
            raise Conflict(_("Cluster “%(name)s” still runs placed workloads; cordon it, wait until they "
                             "have moved, then remove it.") % {"name": name}) from None
        hooks.topology_changed(actor=actor, reason=f"cluster {slug} removed")
        _notify(actor, tenants, "cluster.removed", {"name": name, "slug": slug})
    # Its cached client (and pooled sockets) go with it: the cache holds registered clusters only.
    transaction.on_commit(lambda: kube.forget_cluster(cluster_id))


# --- the global stop switch ------------------------------------------------------

def _switch_fields(switch: PlatformSwitch) -> dict:
    return {"propagation_paused": switch.propagation_paused, "reason": switch.reason}


def _set_platform_switch(actor: Actor, paused: bool, reason: str, action: str) -> PlatformSwitch:
    switch = PlatformSwitch.get()
    authorize_platform(actor, "clusters.stop_all_propagation", switch, action=action)
    reason = (reason or "").strip()
    with transaction.atomic():
        switch = PlatformSwitch.objects.select_for_update().get(pk=switch.pk)
        if switch.propagation_paused == paused:
            return switch
        if paused and not reason:
            raise DomainError(_("Say why all propagation is being stopped."), field="reason")
        before = _switch_fields(switch)
        switch.propagation_paused, switch.reason = paused, reason
        switch.changed_by, switch.changed_at = actor.label[:200], timezone.now()
        switch.save()
        audit_record(actor=actor, action=action, target=switch, before=before, after=_switch_fields(switch),
                     reason=reason)
        if not paused:
            hooks.cluster_switch_changed(actor=actor, cluster=None)
        _notify(actor, _tenants_bound(Q()), action, {"name": reason})
    return switch


def platform_stop_propagation(*, actor: Actor, reason: str) -> PlatformSwitch:
    """Stop every push to every cluster (a bad change is spreading); a reason is required."""
    return _set_platform_switch(actor, True, reason, "platform.propagation.stop")


def platform_resume_propagation(*, actor: Actor, reason: str = "") -> PlatformSwitch:
    return _set_platform_switch(actor, False, reason, "platform.propagation.resume")


# --- environment bindings --------------------------------------------------------

def _binding_fields(binding: EnvironmentBinding) -> dict:
    return {"environment": str(binding.environment), "cell": binding.cell.slug if binding.cell_id else None,
            "cluster": binding.cluster.slug if binding.cluster_id else None}


def environment_bind(*, actor: Actor, environment, cell: Cell | None = None,
                     cluster: Cluster | None = None) -> EnvironmentBinding:
    """Let a tenant environment place workloads on a cell (all its clusters) or on one cluster."""
    binding = EnvironmentBinding(environment=environment, cell=cell, cluster=cluster)
    authorize_platform(actor, "clusters.add_environmentbinding", binding, action="cluster.binding.create")
    if (cell is None) == (cluster is None):
        raise DomainError(_("Bind the environment to either a cell or a cluster."), field="target")
    with transaction.atomic():
        existing = EnvironmentBinding.objects.filter(environment=environment, cell=cell, cluster=cluster).first()
        if existing is not None:
            return existing
        binding.save()
        audit_record(actor=actor, action="cluster.binding.create", target=binding, after=_binding_fields(binding))
        hooks.topology_changed(actor=actor, reason=f"environment {environment} bound to {cell or cluster}")
        _notify(actor, [environment.tenant_id], "binding.created",
                {"environment": environment.slug, "name": str(binding.cell or binding.cluster)})
    return binding


def environment_unbind(*, actor: Actor, binding: EnvironmentBinding) -> None:
    authorize_platform(actor, "clusters.delete_environmentbinding", binding, action="cluster.binding.delete")
    with transaction.atomic():
        current = EnvironmentBinding.objects.select_for_update().filter(pk=binding.pk).first()
        if current is None:
            return
        environment, target = current.environment, str(current.cell or current.cluster)
        audit_record(actor=actor, action="cluster.binding.delete", target=current, before=_binding_fields(current))
        current.delete()
        hooks.topology_changed(actor=actor, reason=f"environment {environment} unbound from {target}")
        _notify(actor, [environment.tenant_id], "binding.deleted", {"environment": environment.slug, "name": target})
