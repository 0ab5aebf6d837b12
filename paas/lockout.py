"""Failed sign-in and API-token counters, lockout, and their aggregated audit.

Two kinds of subject are counted separately:

- an **account** (password sign-in, username lower-cased): LOGIN_FAILURE_LIMIT
  failures within LOGIN_FAILURE_WINDOW_SECONDS lock it for LOGIN_LOCKOUT_SECONDS;
  while locked even the right password is refused, from every address, so
  guessing one account cannot continue at a slower pace;
- an **address** (the client address, see paas.context.client_ip):
  LOGIN_FAILURE_LIMIT_PER_ADDRESS failures lock it. A locked address only changes
  the answer to *failed* attempts (429 instead of "wrong password"); a valid
  password for an unlocked account, or a valid API token, is always accepted.
  Otherwise one attacker behind an office NAT or a load balancer would lock
  every colleague out; the account lock is what protects each account.

API tokens are counted per address only: a token secret cannot be guessed, so
locking a token (or its owner) would only let anyone who saw its prefix disable it.

Counters live in the database (paas.models.LoginThrottle), not the cache: all
processes share them, and they keep working, unchanged, when Redis is down.

Audit: the trail is append-only, so failures are aggregated per address. The
first failure from an address in an audit window is recorded at once; later
ones are counted on the address row and recorded as one summary event (with
the count and the accounts tried) when the window has passed, either at the
next failure or by the `paas.tasks.flush_login_failures` beat task. Every lock
is recorded when it happens (`auth.lockout`). 300 failed attempts from one
address therefore write about four rows, not 300.
"""
import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from paas import context
from paas.actors import Actor
from paas.audit.services import audit_record
from paas.models import LoginThrottle

Kind = LoginThrottle.Kind

#: Accounts named in one summary event (the count of the others is kept).
SUMMARY_ACCOUNTS = 20

#: Audit action of failed attempts per address kind.
FAILED_ACTION = {Kind.ADDRESS: "auth.login.failed", Kind.TOKEN_ADDRESS: "auth.token.failed"}


@dataclass(frozen=True)
class Verdict:
    """What to answer a failed attempt: refuse as locked (429) or as wrong."""

    locked: bool = False
    retry_after: int = 0  # seconds until the longest applicable lock ends


def _window() -> timedelta:
    return timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def _lock_period() -> timedelta:
    return timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)


def account_key(username: str) -> str:
    # Lower-cased so "Alice" and "alice" share one counter.
    return username.strip().lower()[:200]


def address_key(address: str | None) -> str:
    return (address or "unknown")[:200]


def account_locked_until(username: str):
    """When the account's lock ends, or None when it is not locked."""
    return (
        LoginThrottle.objects.filter(kind=Kind.ACCOUNT, key=account_key(username), locked_until__gt=timezone.now())
        .values_list("locked_until", flat=True)
        .first()
    )


def _row(kind: str, key: str, now) -> LoginThrottle:
    # Row-locked for the rest of the transaction, so concurrent failures from
    # several processes are all counted.
    row, _ = LoginThrottle.objects.select_for_update().get_or_create(
        kind=kind, key=key, defaults={"updated_at": now})
    return row


def _is_locked(row: LoginThrottle, now) -> bool:
    return row.locked_until is not None and row.locked_until > now


def _count(row: LoginThrottle, now, limit: int) -> bool:
    """Count one failure on an unlocked row; True when it locks the row now."""
    if row.window_started_at is None or row.window_started_at + _window() <= now:
        row.window_started_at, row.failures = now, 0
    row.failures += 1
    if row.failures < limit:
        return False
    row.locked_until = now + _lock_period()
    row.window_started_at, row.failures = None, 0
    return True


def _seconds_left(until, now) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


# --- audit aggregation ---------------------------------------------------------

def _summary(row: LoginThrottle) -> None:
    """Record the attempts counted on an address row since its window's first event."""
    if row.pending:
        detail = row.pending_detail or {}
        accounts = detail.get("accounts", [])
        noun = "sign-ins" if row.kind == Kind.ADDRESS else "API token attempts"
        with context.bind(source_ip=None if row.key == "unknown" else row.key):
            audit_record(
                actor=Actor(), action=FAILED_ACTION[row.kind], target=("address", row.key, row.key),
                outcome="denied",
                reason=f"{row.pending} more failed {noun} from {row.key} since {row.audit_window_started_at:%Y-%m-%d %H:%M:%S} UTC",
                after={"attempts": row.pending, "accounts": accounts,
                       "other_accounts": detail.get("other_accounts", 0),
                       "reasons": detail.get("reasons", []),
                       "first_at": detail.get("first_at"), "last_at": detail.get("last_at")},
            )
    row.audit_window_started_at, row.pending, row.pending_detail = None, 0, {}


def _aggregate(row: LoginThrottle, now, *, target, reason: str, via: str) -> None:
    """Audit one failed attempt from an address: at once if it opens a window, else counted."""
    if row.audit_window_started_at is not None and row.audit_window_started_at + _window() <= now:
        _summary(row)
    if row.audit_window_started_at is None:
        row.audit_window_started_at = now
        audit_record(actor=Actor(), action=FAILED_ACTION[row.kind], target=target, outcome="denied",
                     reason=reason, after={"attempts": 1, "via": via})
        return
    label = str(target[2])
    detail = row.pending_detail or {}
    accounts = detail.setdefault("accounts", [])
    if label not in accounts:
        if len(accounts) < SUMMARY_ACCOUNTS:
            accounts.append(label)
        else:
            detail["other_accounts"] = detail.get("other_accounts", 0) + 1
    # A list, not a dict keyed by reason: "wrong ... password" as a key would be redacted.
    reasons = detail.setdefault("reasons", [])
    entry = next((item for item in reasons if item["reason"] == reason), None)
    if entry is None:
        reasons.append({"reason": reason, "count": 1})
    else:
        entry["count"] += 1
    detail.setdefault("first_at", now.isoformat())
    detail["last_at"] = now.isoformat()
    row.pending += 1
    row.pending_detail = detail


def _audit_lock(row: LoginThrottle, target, limit: int) -> None:
    minutes = max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)
    what = {Kind.ACCOUNT: "failed sign-ins for this account",
            Kind.ADDRESS: "failed sign-ins from this address",
            Kind.TOKEN_ADDRESS: "failed API token attempts from this address"}[row.kind]
    audit_record(actor=Actor(), action="auth.lockout", target=target, outcome="denied",
                 reason=f"{limit} {what} within {minutes} minutes",
                 after={"subject": row.kind, "locked_until": row.locked_until.isoformat()})


# --- entry points ------------------------------------------------------------------

def _failure(*, address_kind: str, address: str | None, account: str | None, count_account: bool,
             target, reason: str, via: str) -> Verdict:
    now = timezone.now()
    with transaction.atomic():
        # Always account before address: one lock order, no deadlock between processes.
        acct = _row(Kind.ACCOUNT, account_key(account), now) if account is not None else None
        addr = _row(address_kind, address_key(address), now)
        locks = []
        if acct is not None and count_account and not _is_locked(acct, now):
            if _count(acct, now, settings.LOGIN_FAILURE_LIMIT):
                locks.append((acct, target, settings.LOGIN_FAILURE_LIMIT))
        if not _is_locked(addr, now) and _count(addr, now, settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS):
            locks.append((addr, ("address", addr.key, addr.key), settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS))
        _aggregate(addr, now, target=target, reason=reason, via=via)
        for row, lock_target, limit in locks:
            _audit_lock(row, lock_target, limit)
        for row in (acct, addr):
            if row is not None:
                row.updated_at = now
                row.save()
    ends = [row.locked_until for row in (acct, addr) if row is not None and _is_locked(row, now)]
    return Verdict(locked=True, retry_after=_seconds_left(max(ends), now)) if ends else Verdict()


def login_failed(*, username: str, address: str | None, reason: str, via: str,
                 count_account: bool = True) -> Verdict:
    """Count (and audit, aggregated) one failed password sign-in.

    `count_account=False` for attempts that say nothing about the password:
    refused because the account is already locked, or a valid password for an
    account that may not use this page (a non-staff user on /admin/).
    """
    return _failure(address_kind=Kind.ADDRESS, address=address, account=username, count_account=count_account,
                    target=("auth.user", "", username[:150]), reason=reason, via=via)


def login_succeeded(username: str) -> None:
    """A correct password resets the account's counter (never the address's: a valid
    account must not reset an address that is spraying passwords at others)."""
    LoginThrottle.objects.filter(kind=Kind.ACCOUNT, key=account_key(username)).exclude(
        locked_until__gt=timezone.now()).delete()


def token_failed(*, address: str | None, target, reason: str) -> Verdict:
    """Count (and audit, aggregated) one request with a bad API token."""
    return _failure(address_kind=Kind.TOKEN_ADDRESS, address=address, account=None, count_account=False,
                    target=target, reason=reason, via="api")


def flush(now=None) -> int:
    """Write the summaries of audit windows that have passed and drop rows nothing
    refers to any more; return the number of summaries written (beat task)."""
    now = now or timezone.now()
    written = 0
    due = LoginThrottle.objects.filter(audit_window_started_at__lte=now - _window()).values_list("pk", flat=True)
    for pk in list(due[:1000]):
        with transaction.atomic():
            row = LoginThrottle.objects.select_for_update().filter(pk=pk).first()
            if row is None or row.audit_window_started_at is None or row.audit_window_started_at + _window() > now:
                continue
            written += 1 if row.pending else 0
            _summary(row)
            row.save()
    # Not locked, no failures in a current window, nothing waiting to be audited: nothing to keep.
    LoginThrottle.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        Q(window_started_at__isnull=True) | Q(window_started_at__lte=now - _window()),
        audit_window_started_at__isnull=True,
    ).delete()
    return written
