"""Push an access change to the user's live connections (emit.access_changed) whenever
what they may see changes: a membership added, re-roled or removed, an object or global
permission granted or taken, group membership changed, the account deactivated, a
tenant archived or reactivated (its members).

Signals rather than calls in each service: admin edits and guardian grants made
anywhere are covered too. Several signals in one transaction (a role change syncs a
dozen permissions) become several pushes; each costs one snapshot query per process
that has a connection of the user, none otherwise.
"""
from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from guardian.models import GroupObjectPermission, UserObjectPermission

from .emit import access_changed

ACCOUNT_FIELDS = {"is_active", "is_superuser"}


def _membership_changed(sender, instance, **kwargs):
    access_changed(instance.user_id)


def _object_permission_changed(sender, instance, **kwargs):
    if isinstance(instance, UserObjectPermission):
        access_changed(instance.user_id)
    else:
        for user_id in instance.group.user_set.values_list("pk", flat=True):
            access_changed(user_id)


def _tenant_saving(sender, instance, update_fields=None, **kwargs):
    if instance.pk is None or (update_fields is not None and "is_active" not in update_fields):
        return
    instance._live_was_active = sender.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()


def _tenant_saved(sender, instance, created, **kwargs):
    # Archiving makes a tenant read-only (restricted events stop): its members are told.
    # Only then: a description edit must not make every member's snapshot be recomputed.
    was = instance.__dict__.pop("_live_was_active", None)
    if created or was is None or was == instance.is_active:
        return
    from tenants.models import Membership

    for user_id in Membership.objects.filter(tenant=instance).values_list("user_id", flat=True):
        access_changed(user_id)


def _user_saved(sender, instance, created, update_fields=None, **kwargs):
    # A sign-in saves last_login only: nothing to recompute.
    if created or (update_fields is not None and not ACCOUNT_FIELDS & set(update_fields)):
        return
    access_changed(instance.pk)


def _user_m2m_changed(sender, instance, action, pk_set=None, model=None, reverse=False, **kwargs):
    if not action.startswith("post_"):
        return
    User = get_user_model()
    if isinstance(instance, User):
        access_changed(instance.pk)
    elif reverse and model is User:  # group.user_set.add(...) / permission.user_set.add(...)
        for user_id in pk_set or ():
            access_changed(user_id)


def connect():
    from tenants.models import Membership, Tenant

    User = get_user_model()
    pre_save.connect(_tenant_saving, sender=Tenant, dispatch_uid="live-tenant-pre")
    post_save.connect(_tenant_saved, sender=Tenant, dispatch_uid="live-tenant")
    for signal in (post_save, post_delete):
        signal.connect(_membership_changed, sender=Membership, dispatch_uid=f"live-membership-{signal}")
        for model in (UserObjectPermission, GroupObjectPermission):
            signal.connect(_object_permission_changed, sender=model, dispatch_uid=f"live-{model.__name__}-{signal}")
    post_save.connect(_user_saved, sender=User, dispatch_uid="live-user")
    for through in (User.groups.through, User.user_permissions.through):
        m2m_changed.connect(_user_m2m_changed, sender=through, dispatch_uid=f"live-m2m-{through.__name__}")
