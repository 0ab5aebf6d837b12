"""Authentication backends.

`LockoutAwareModelBackend` refuses an account locked by paas.lockout whatever
called `authenticate()`: the portal and admin login go through
paas.web.auth_services (which also counts and audits), but a page or library
added later that calls `authenticate()` directly still cannot sign in a locked
account.
"""
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from paas import lockout


class LockoutAwareModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is not None and lockout.account_locked_until(username) is not None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
