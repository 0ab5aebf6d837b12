"""The audit trail: append-only, hash-chained.

Rows keep snapshots (actor label, tenant slug, target label) rather than foreign
keys: deleting a user or tenant must never rewrite or cascade into history, and a
PostgreSQL trigger (see migration 0002) rejects UPDATE and DELETE outright.
"""
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    class ActorType(models.TextChoices):
        USER = "user", _("User")
        TOKEN = "token", _("API token")
        SYSTEM = "system", _("System process")
        ANONYMOUS = "anonymous", _("Anonymous")

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Success")
        DENIED = "denied", _("Denied")
        FAILED = "failed", _("Failed")

    created_at = models.DateTimeField(_("time (UTC)"), db_index=True)
    actor_type = models.CharField(_("actor type"), max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(_("actor id"), max_length=64, blank=True)
    actor_label = models.CharField(_("actor"), max_length=200, blank=True)
    user_id = models.BigIntegerField(_("user id"), null=True, blank=True, db_index=True)
    tenant_id = models.BigIntegerField(_("tenant id"), null=True, blank=True, db_index=True)
    tenant_slug = models.CharField(_("tenant"), max_length=64, blank=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    target_type = models.CharField(_("target type"), max_length=100, blank=True, db_index=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_label = models.CharField(_("target"), max_length=300, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True, db_index=True)
    source_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    reason = models.TextField(_("reason"), blank=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["tenant_id", "-id"], name="audit_tenant_recent")]

    def __str__(self):
        return f"#{self.pk} {self.action} by {self.actor_label}"


class AuditCheckpoint(models.Model):
    """A signed statement "the trail had N events, ending with this hash".

    The signing key is never in the database, and every checkpoint is also written
    to a sink outside it (paas.audit.sinks): that copy is the authority when
    `audit_verify` looks for truncated or re-chained history. Append-only like the
    events (trigger and grants in the migrations).
    """

    created_at = models.DateTimeField(_("time (UTC)"))
    event_count = models.BigIntegerField(_("events covered"))
    last_event_id = models.BigIntegerField(_("last event"))
    last_hash = models.CharField(_("last event hash"), max_length=64)
    algorithm = models.CharField(_("algorithm"), max_length=16)
    key_id = models.CharField(_("key id"), max_length=32)
    signature = models.TextField(_("signature"))

    class Meta:
        ordering = ["-id"]
        verbose_name = _("audit checkpoint")
        verbose_name_plural = _("audit checkpoints")

    def __str__(self):
        return f"checkpoint #{self.pk}: {self.event_count} events up to #{self.last_event_id}"
