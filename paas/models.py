"""Models of the platform core that belong to no product app."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class LoginThrottle(models.Model):
    """Failed sign-in / API token counters for one subject (paas.lockout).

    Kept in the database, not the cache: every web process sees the same counts,
    and a Redis outage neither resets a lock nor turns sign-in into a 500.
    Address rows also carry the audit aggregation window: failures inside it are
    summarised in one audit event instead of one row each.
    """

    class Kind(models.TextChoices):
        ACCOUNT = "account", _("account (password sign-in)")
        ADDRESS = "address", _("address (password sign-in)")
        TOKEN_ADDRESS = "token-address", _("address (API token)")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    key = models.CharField(_("subject"), max_length=200)
    failures = models.PositiveIntegerField(_("failures in window"), default=0)
    window_started_at = models.DateTimeField(_("window started"), null=True, blank=True)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    # Audit aggregation (address rows): attempts since the window's first event, not yet audited.
    audit_window_started_at = models.DateTimeField(_("audit window started"), null=True, blank=True,
                                                   db_index=True)
    pending = models.PositiveIntegerField(_("attempts not yet audited"), default=0)
    pending_detail = models.JSONField(_("pending detail"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated"), db_index=True)

    class Meta:
        verbose_name = _("sign-in throttle")
        verbose_name_plural = _("sign-in throttles")
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="login_throttle_subject")]

    def __str__(self):
        return f"{self.kind}:{self.key}"


class LiveStream(models.Model):
    """Head (last assigned sequence number) of one live event stream, e.g. "tenant.12".

    Publishing an event increments it (INSERT .. ON CONFLICT .. RETURNING, which locks
    the row until that short transaction commits), so numbers are gap-free and commit
    in seq order (paas.realtime.emit.publish)."""

    name = models.CharField(_("stream"), max_length=100, primary_key=True)
    head = models.BigIntegerField(_("last sequence number"), default=0)

    class Meta:
        verbose_name = _("live stream")
        verbose_name_plural = _("live streams")

    def __str__(self):
        return f"{self.name}@{self.head}"


class LiveEvent(models.Model):
    """One event of a live stream, kept for a while so a browser that missed it
    (a gap, a reconnect) fetches it again (paas.realtime.replay)."""

    stream = models.CharField(_("stream"), max_length=100)
    seq = models.BigIntegerField(_("sequence number"))
    payload = models.JSONField(_("payload"))
    # Who may receive it besides everyone on the stream: holders of `permission`
    # (a tenants.roles codename; empty: everyone) and the users listed.
    permission = models.CharField(_("permission"), max_length=64, blank=True, default="")
    users = models.JSONField(_("users"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), db_index=True)

    class Meta:
        verbose_name = _("live event")
        verbose_name_plural = _("live events")
        constraints = [models.UniqueConstraint(fields=["stream", "seq"], name="live_event_stream_seq")]

    def __str__(self):
        return f"{self.stream}#{self.seq}"
