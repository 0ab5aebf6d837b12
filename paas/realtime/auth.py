"""Session authentication for WebSockets, off the single thread_sensitive thread.

channels' AuthMiddleware loads the session and user through database_sync_to_async
on the one thread every thread-sensitive call shares: when a thousand browsers
reconnect at once (a web process restart) they queue there one after another and
daphne's accept timeout drops most of them. The lookup is read-only, so it runs in
the thread pool instead (each thread has its own database connection)."""
from channels.auth import AuthMiddleware, get_user
from channels.sessions import CookieMiddleware, SessionMiddleware

from .store import pooled  # noqa: E402

_get_user = pooled(get_user.func)


class PooledAuthMiddleware(AuthMiddleware):
    async def resolve_scope(self, scope):
        scope["user"]._wrapped = await _get_user(scope)


def LiveAuthMiddlewareStack(inner):  # noqa: N802  (named like channels' AuthMiddlewareStack)
    return CookieMiddleware(SessionMiddleware(PooledAuthMiddleware(inner)))
