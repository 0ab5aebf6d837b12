"""Signing in and out of the portal.

Repeated failures lock both the username and the source address (paas.lockout)
for LOGIN_LOCKOUT_SECONDS; while locked even the right password is refused, so
guessing cannot continue at a slower pace. Every attempt and every sign-out is
recorded in the audit trail.
"""
from django.conf import settings
from django.contrib import auth
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from paas import lockout
from paas.actors import Actor
from paas.audit.services import audit_record
from paas.context import client_ip


class SignInError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SignInFailed(SignInError):
    """Wrong username or password (deliberately not saying which)."""


class SignInLocked(SignInError):
    """Too many recent failures for this username or address."""


def _locked_message() -> str:
    minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
    return ngettext(
        "Too many failed sign-ins; try again in %(minutes)d minute.",
        "Too many failed sign-ins; try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def _subjects(username: str, ip: str | None) -> list[str]:
    # Lower-cased so "Alice" and "alice" share one counter.
    subjects = [f"login-user:{username.strip().lower()}"]
    if ip:
        subjects.append(f"login-ip:{ip}")
    return subjects


def _record_failure(username: str, reason: str) -> None:
    audit_record(actor=Actor(), action="auth.login.failed", target=("auth.user", "", username[:150]),
                 outcome="denied", reason=reason)


def sign_in(request, *, username: str, password: str):
    """Authenticate and start a session; raise SignInLocked / SignInFailed otherwise."""
    subjects = _subjects(username, client_ip(request.META))
    if any(lockout.is_locked(subject) for subject in subjects):
        _record_failure(username, "locked out after repeated failures")
        raise SignInLocked(_locked_message())
    user = auth.authenticate(request, username=username, password=password)
    if user is None:
        locked = [lockout.record_failure(subject) for subject in subjects]
        _record_failure(username, "wrong username or password" + ("; now locked" if any(locked) else ""))
        if any(locked):
            raise SignInLocked(_locked_message())
        raise SignInFailed(_("The username or password is not correct."))
    # Only the username's counter: a valid account must not reset an address
    # that is spraying passwords at other accounts.
    lockout.clear(subjects[0])
    auth.login(request, user)
    audit_record(actor=Actor.for_user(user), action="auth.login", target=user)
    return user


def sign_out(request) -> None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        audit_record(actor=Actor.for_user(user), action="auth.logout", target=user)
    auth.logout(request)
