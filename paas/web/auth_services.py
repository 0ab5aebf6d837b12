"""Signing in and out: the one password sign-in path, used by the portal login
page and by /admin/login/ (paas.web.admin_login).

Failures are counted per account and per address (paas.lockout). A locked
account is refused even with the right password; a locked address only turns
*failed* attempts into "locked" answers, so a valid user sharing an address with
an attacker can still sign in. Successful sign-ins, failures (aggregated per
address), refusals and locks are all recorded in the audit trail.
"""
from django.contrib import auth
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from paas import lockout
from paas.actors import Actor
from paas.audit.services import audit_record
from paas.context import client_ip

WRONG = "wrong username or password"


class SignInError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SignInFailed(SignInError):
    """Wrong username or password (deliberately not saying which)."""


class SignInLocked(SignInError):
    """Too many recent failures for this account or address."""


def _locked_message(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return ngettext(
        "Too many failed sign-ins; try again in %(minutes)d minute.",
        "Too many failed sign-ins; try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def check_credentials(request, *, username: str, password: str, via: str):
    """The user whose password this is; raise SignInLocked / SignInFailed otherwise.

    Counts and audits failures; does not start a session (see `sign_in`).
    """
    address = client_ip(request.META)
    until = lockout.account_locked_until(username)
    if until is not None:
        # Refused without checking the password: guessing must not continue, and
        # the answer must not tell whether the guess was right.
        verdict = lockout.login_failed(username=username, address=address, via=via, count_account=False,
                                       reason="refused: account locked after repeated failures")
        raise SignInLocked(_locked_message(verdict.retry_after))
    user = auth.authenticate(request, username=username, password=password)
    if user is None:
        verdict = lockout.login_failed(username=username, address=address, reason=WRONG, via=via)
        if verdict.locked:
            raise SignInLocked(_locked_message(verdict.retry_after))
        raise SignInFailed(_("The username or password is not correct."))
    lockout.login_succeeded(username)
    return user


def refuse_valid_user(request, *, user, reason: str, via: str) -> None:
    """A right password for an account that may not use this page (audited, aggregated;
    not counted against the account, whose password was right)."""
    lockout.login_failed(username=user.get_username(), address=client_ip(request.META), reason=reason, via=via,
                         count_account=False)


def record_sign_in(user, *, via: str) -> None:
    audit_record(actor=Actor.for_user(user), action="auth.login", target=user, after={"via": via})


def sign_in(request, *, username: str, password: str, via: str = "portal"):
    """Authenticate and start a session; raise SignInLocked / SignInFailed otherwise."""
    user = check_credentials(request, username=username, password=password, via=via)
    auth.login(request, user)
    record_sign_in(user, via=via)
    return user


def sign_out(request) -> None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        audit_record(actor=Actor.for_user(user), action="auth.logout", target=user)
    auth.logout(request)

