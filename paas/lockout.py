"""Counting failed logins and token attempts in the shared cache (Redis in
production, so every web process sees the same counts)."""
from django.conf import settings
from django.core.cache import cache


def _keys(subject: str) -> tuple[str, str]:
    return f"lockout:fail:{subject}", f"lockout:locked:{subject}"


def is_locked(subject: str) -> bool:
    return bool(cache.get(_keys(subject)[1]))


def _limit(subject: str) -> int:
    # An address can be shared by a whole office behind NAT: it gets a higher limit
    # than one account, so one person's typos do not lock out their colleagues.
    if subject.startswith(("login-ip:", "token-ip:")):
        return settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS
    return settings.LOGIN_FAILURE_LIMIT


def record_failure(subject: str) -> bool:
    """Count one failure; return True when this failure locks the subject."""
    fail_key, lock_key = _keys(subject)
    if cache.add(fail_key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS):
        count = 1
    else:
        try:
            count = cache.incr(fail_key)
        except ValueError:  # expired between add() and incr()
            cache.set(fail_key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)
            count = 1
    if count >= _limit(subject):
        cache.set(lock_key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)
        cache.delete(fail_key)
        return True
    return False


def clear(subject: str) -> None:
    cache.delete_many(list(_keys(subject)))
