"""Portal forms for tenants. They check input shape only; the services decide
what is allowed and raise DomainError naming the field, shown next to it."""
import datetime
from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import ApiToken, Environment, Quota, QuotaRequest, Tenant
from .roles import Role


class TenantCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    slug = forms.CharField(
        label=_("Slug"), max_length=40,
        help_text=_("Short identifier used in URLs, namespaces and the API. Cannot be changed later."),
        widget=forms.TextInput(attrs={"data-slug-from": "id_name", "autocapitalize": "none", "spellcheck": "false"}),
    )
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    owner = forms.CharField(
        label=_("Owner"), required=False, max_length=254,
        help_text=_("Username or e-mail of the first owner. Leave empty to become the owner yourself."),
    )
    default_environments = forms.BooleanField(
        label=_("Create the standard environments"), required=False, initial=True,
        help_text=_("Development, Test, Pre-production and Production, each with default quotas."),
    )


class TenantEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4}))

    @classmethod
    def for_tenant(cls, tenant: Tenant, data=None):
        return cls(data, initial={"name": tenant.name, "description": tenant.description})


class EnvironmentCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    slug = forms.CharField(
        label=_("Slug"), max_length=40, help_text=_("Lowercase letters, digits and hyphens. Cannot be changed later."),
        widget=forms.TextInput(attrs={"data-slug-from": "id_name", "autocapitalize": "none", "spellcheck": "false"}),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=Environment.Kind.choices, initial=Environment.Kind.DEV)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    protected = forms.BooleanField(
        label=_("Protected"), required=False,
        help_text=_("Protected environments cannot be deleted. Production is always protected."),
    )


class EnvironmentEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    protected = forms.BooleanField(
        label=_("Protected"), required=False,
        help_text=_("Protected environments cannot be deleted. Production is always protected."),
    )

    def __init__(self, *args, environment: Environment, **kwargs):
        kwargs.setdefault("initial", {"name": environment.name, "description": environment.description,
                                      "protected": environment.protected})
        super().__init__(*args, **kwargs)
        if environment.kind == Environment.Kind.PROD:
            self.fields["protected"].disabled = True


class MemberInviteForm(forms.Form):
    user = forms.CharField(
        label=_("Username or e-mail"), max_length=254,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false", "placeholder": "jane.doe"}),
        help_text=_("The person needs an active platform account."),
    )
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.VIEWER)

    def __init__(self, *args, allow_owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(allow_owner)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


def role_choices(allow_owner: bool) -> list[tuple[str, str]]:
    return [(value, label) for value, label in Role.choices if allow_owner or value != Role.OWNER]


def _to_units(value: int, divisor: int) -> Decimal:
    units = Decimal(value) / divisor
    # normalize() alone would turn 20 into 2E+1.
    return units.quantize(Decimal(1)) if units == units.to_integral_value() else units.normalize()


class QuotaForm(forms.Form):
    """Quotas in human units (cores, GiB); converted to millicores and MiB for the service."""

    cpu_millicores = forms.DecimalField(
        label=_("CPU"), min_value=0, max_value=Quota.MAX_CPU_MILLICORES // 1000, decimal_places=3,
        help_text=_("Cores; 0.5 is half a core."),
    )
    memory_mib = forms.DecimalField(
        label=_("Memory"), min_value=0, max_value=Quota.MAX_MEMORY_MIB // 1024, decimal_places=3,
        help_text=_("GiB; rounded to whole MiB."),
    )
    ephemeral_storage_mib = forms.DecimalField(
        label=_("Ephemeral disk"), min_value=0, max_value=Quota.MAX_DISK_MIB // 1024, decimal_places=3,
        help_text=_("GiB of scratch space for containers; rounded to whole MiB."),
    )
    exclusive_cpuset_cores = forms.IntegerField(
        label=_("Exclusive cpuset cores"), min_value=0, max_value=Quota.MAX_CPU_MILLICORES // 1000,
        help_text=_("Whole cores pinned to latency-sensitive workloads; part of the CPU quota."),
    )
    pods = forms.IntegerField(label=_("Pods"), min_value=0, max_value=Quota.MAX_PODS)

    UNITS = {"cpu_millicores": 1000, "memory_mib": 1024, "ephemeral_storage_mib": 1024}

    @classmethod
    def for_quota(cls, quota: Quota, data=None):
        initial = {name: getattr(quota, name) for name in ("exclusive_cpuset_cores", "pods")}
        initial.update({name: _to_units(getattr(quota, name), unit) for name, unit in cls.UNITS.items()})
        return cls(data, initial=initial)

    def service_values(self) -> dict[str, int]:
        values = dict(self.cleaned_data)
        for name, unit in self.UNITS.items():
            values[name] = int((values[name] * unit).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return values


class QuotaRequestForm(QuotaForm):
    """The limits a tenant asks for (prefilled with the current ones) and why."""

    reason = forms.CharField(
        label=_("Reason"), max_length=QuotaRequest.MAX_REASON, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What needs the extra capacity, and from when; platform operators decide on this."),
    )

    def service_values(self) -> dict[str, int]:
        values = super().service_values()
        values.pop("reason")
        return values


class QuotaDecisionForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), required=False, max_length=QuotaRequest.MAX_REASON,
                              widget=forms.Textarea(attrs={"rows": 2}),
                              help_text=_("Required to reject; the tenant sees it."))


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=100,
        help_text=_("Say what uses it, e.g. “Jenkins deploy pipeline”."),
    )
    scope = forms.ChoiceField(label=_("Scope"), choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ,
                              widget=forms.RadioSelect)
    expires_in_days = forms.IntegerField(
        label=_("Expires in (days)"), required=False, min_value=1, max_value=3650, initial=90,
        widget=forms.NumberInput(attrs={"data-exclusive-with": "id_expires_on"}),
    )
    expires_on = forms.DateField(
        label=_("or expires on"), required=False,
        widget=forms.DateInput(attrs={"type": "date", "data-exclusive-with": "id_expires_in_days"}),
        help_text=_("The token stops working at the end of this day (UTC)."),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("expires_in_days") and cleaned.get("expires_on"):
            self.add_error("expires_on", _("Give either a number of days or a date, not both."))
        return cleaned

    def expires_at(self) -> datetime.datetime | None:
        days, date = self.cleaned_data.get("expires_in_days"), self.cleaned_data.get("expires_on")
        if days:
            return timezone.now() + datetime.timedelta(days=days)
        if date:
            end_of_day = datetime.datetime.combine(date, datetime.time(23, 59, 59))
            return end_of_day.replace(tzinfo=datetime.UTC)
        return None
