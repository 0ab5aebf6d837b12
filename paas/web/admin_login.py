"""/admin/login/ through the same sign-in service as the portal: the same
lockout, the same audit events (`via: admin`), so the admin page is not a way
round either."""
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm

from . import auth_services


class AdminLoginForm(AdminAuthenticationForm):
    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data
        try:
            user = auth_services.check_credentials(self.request, username=username, password=password, via="admin")
        except auth_services.SignInLocked as exc:
            raise forms.ValidationError(exc.message, code="locked") from None
        except auth_services.SignInFailed:
            raise self.get_invalid_login_error() from None
        try:
            self.confirm_login_allowed(user)  # active and staff
        except forms.ValidationError:
            auth_services.refuse_valid_user(self.request, user=user, reason="refused: not a staff account",
                                            via="admin")
            raise
        self.user_cache = user
        # The admin's LoginView starts the session as soon as the form is valid.
        auth_services.record_sign_in(user, via="admin")
        return self.cleaned_data
