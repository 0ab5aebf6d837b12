"""Previewing and creating a release: the plan over every cluster of the instance, then the
Release with its steps and step targets (PLANNED, nothing touched yet)."""
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from applications.models import AppInstance, AppRevision
from paas.actors import Actor
from paas.audit.services import audit_record
from paas.errors import Conflict, DomainError
from paas.permissions import authorize

from .. import events
from .. import options as options_mod
from ..models import Release, ReleaseStep, StepTarget
from ..plan import plan_for
from ._common import authorize_release


def _check(instance: AppInstance, target: AppRevision) -> None:
    if not isinstance(target, AppRevision) or target.application_id != instance.application_id \
            or target.environment_id != instance.environment_id:
        raise DomainError(_("target: not a revision of this application in %(env)s")
                          % {"env": instance.environment.slug}, field="target")


def _baseline(instance: AppInstance, target: AppRevision) -> AppRevision:
    if instance.baseline_id is None:
        raise Conflict(_("target: %(app)s has nothing deployed in %(env)s yet: a release moves a baseline to a "
                         "target, and there is no baseline") % {"app": instance.application.name,
                                                                "env": instance.environment.slug},
                       field="target", code="no_baseline")
    if instance.baseline_id == target.pk:
        raise DomainError(_("target: revision %(n)s is already the baseline") % {"n": target.number},
                          field="target", code="already_baseline")
    return instance.baseline


def active_release(instance: AppInstance) -> Release | None:
    return Release.objects.filter(instance=instance, state__in=Release.ACTIVE_STATES).order_by("-number").first()


def release_preview(*, actor: Actor, instance: AppInstance, target: AppRevision, options=None) -> dict:
    """The plan a release with these options would follow (nothing is written)."""
    authorize(actor, "view_tenant", instance.environment, action="release.preview")
    _check(instance, target)
    cleaned = options_mod.clean(options)
    return plan_for(instance, _baseline(instance, target), target, cleaned)


def _rows(release: Release, plan: dict) -> None:
    steps = ReleaseStep.objects.bulk_create([
        ReleaseStep(release=release, index=s["index"], kind=s["kind"], name=s["name"][:200], group=s["group"][:200],
                    manual=s["manual"], wait_seconds=s["wait_seconds"], estimate_seconds=s["estimate_seconds"])
        for s in plan["steps"]])
    if any(step.pk is None for step in steps):  # backends that do not return ids from bulk inserts
        steps = list(release.steps.order_by("index"))
    StepTarget.objects.bulk_create([
        StepTarget(step=step, cluster_id=t["cluster"], component=t["component"], workload_kind=t["workload_kind"],
                   workload_name=t["workload_name"], in_place=t["in_place"], desired=t["desired"], total=t["total"])
        for step, s in zip(steps, plan["steps"], strict=True) for t in s["targets"]])


def release_create(*, actor: Actor, instance: AppInstance, target: AppRevision, options=None,
                   description: str = "") -> Release:
    """A PLANNED release of `instance` from its baseline to `target`; the instance's target is set.
    One active release per instance (Conflict)."""
    environment = instance.environment
    authorize_release(actor, environment, action="release.create")
    _check(instance, target)
    description = (description or "").strip()
    if len(description) > 2000:
        raise DomainError(_("description: at most 2000 characters"), field="description")
    cleaned = options_mod.clean(options)
    with transaction.atomic():
        # The instance row lock serialises creations: two at once cannot both see "none active".
        instance = (AppInstance.objects.select_for_update(of=("self",))
                    .select_related("application__tenant", "environment__tenant", "baseline").get(pk=instance.pk))
        active = active_release(instance)
        if active is not None:
            raise Conflict(_("instance: release %(n)s of %(app)s in %(env)s is still %(state)s; finish, abort or "
                             "roll it back first") % {"n": active.number, "app": instance.application.name,
                                                      "env": environment.slug,
                                                      "state": active.get_state_display().lower()},
                           field="instance", code="release_active")
        baseline = _baseline(instance, target)
        plan = plan_for(instance, baseline, target, cleaned)
        number = (Release.objects.filter(instance=instance).aggregate(n=Max("number"))["n"] or 0) + 1
        release = Release.objects.create(
            tenant=instance.application.tenant, environment=instance.environment, instance=instance,
            baseline=baseline, target=target, number=number, description=description, options=cleaned, plan=plan,
            created_by=actor.user)
        _rows(release, plan)
        instance.target, instance.state = target, AppInstance.State.RELEASING
        instance.save(update_fields=["target", "state", "updated_at"])
        events.record(release, "release.created",
                      _("Release %(n)s planned: revision %(from)s → %(to)s, %(steps)s steps")
                      % {"n": number, "from": baseline.number, "to": target.number, "steps": len(plan["steps"])},
                      actor=actor, data={"state": release.state, "step": 0})
        audit_record(actor=actor, action="release.create", target=release, tenant=release.tenant,
                     after={**release.audit_fields(), "steps": len(plan["steps"]), "in_place": plan["in_place"],
                            "estimate_seconds": plan["estimate_seconds"], "options": cleaned})
    return release
