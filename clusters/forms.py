"""Portal forms of the cluster registry. They check input shape only; the services
decide what is allowed and raise DomainError naming the field.

A pasted or uploaded kubeconfig is never rendered back into a page, not even when
the form has errors: its widget always renders empty.
"""
from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Cell, Cluster, Region, Zone
from .validation import MAX_KUBECONFIG_BYTES

SLUG_ATTRS = {"autocapitalize": "none", "spellcheck": "false"}


def labels_to_text(labels: dict) -> str:
    return "\n".join(f"{key}={value}" for key, value in sorted((labels or {}).items()))


class LabelsField(forms.CharField):
    """`key=value` per line (or comma-separated) -> dict; the services check the syntax."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "placeholder": "env-tier=prod"})

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Labels"))
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", _("One key=value per line. Placement selectors match on them."))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return labels_to_text(value) if isinstance(value, dict) else value

    def to_python(self, value):
        text = super().to_python(value) or ""
        labels = {}
        for item in text.replace(",", "\n").splitlines():
            item = item.strip()
            if not item:
                continue
            if "=" not in item:
                raise forms.ValidationError(_("Write labels as key=value, one per line (“%(item)s”).")
                                            % {"item": item[:60]})
            key, value = item.split("=", 1)
            labels[key.strip()] = value.strip()
        return labels


class SecretTextarea(forms.Textarea):
    """Never renders a value: what was pasted is not sent back to the browser."""

    def format_value(self, value):
        return None


def _slug_field(help_text=None):
    return forms.CharField(label=_("Slug"), max_length=40, widget=forms.TextInput(attrs={
        "data-slug-from": "id_name", **SLUG_ATTRS}), help_text=help_text or _(
        "Lowercase letters, digits and hyphens. Cannot be changed later."))


class RegionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    slug = _slug_field()
    labels = LabelsField()
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["slug"]


class ZoneForm(forms.Form):
    region = forms.ModelChoiceField(label=_("Region"), queryset=Region.objects.all(), to_field_name="slug")
    name = forms.CharField(label=_("Name"), max_length=100)
    slug = _slug_field()
    labels = LabelsField()

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["slug"], self.fields["region"]


class CellForm(forms.Form):
    zone = forms.ModelChoiceField(label=_("Zone"), queryset=Zone.objects.select_related("region"),
                                  to_field_name="slug")
    name = forms.CharField(label=_("Name"), max_length=100)
    slug = _slug_field(_("Lowercase letters, digits and hyphens. Its work queue is cell.<slug>. "
                         "Cannot be changed later."))
    labels = LabelsField()

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["slug"], self.fields["zone"]


class KubeconfigMixin(forms.Form):
    kubeconfig = forms.CharField(
        label=_("Kubeconfig"), required=False, strip=False,
        widget=SecretTextarea(attrs={"rows": 10, "spellcheck": "false", "autocomplete": "off",
                                     "class": "font-monospace", "placeholder": "apiVersion: v1\nkind: Config\n…"}),
        help_text=_("Paste it here or upload the file below. It is stored encrypted and never shown again."))
    kubeconfig_file = forms.FileField(label=_("…or upload a kubeconfig file"), required=False)
    probe = forms.BooleanField(
        label=_("Check the connection first"), required=False, initial=True,
        help_text=_("Refuse the kubeconfig unless the API server answers with these credentials."))

    def clean(self):
        data = super().clean()
        upload = data.get("kubeconfig_file")
        if upload is not None:
            if upload.size > MAX_KUBECONFIG_BYTES:
                self.add_error("kubeconfig_file", _("The file is larger than %(size)s KiB.")
                               % {"size": MAX_KUBECONFIG_BYTES // 1024})
                return data
            data["kubeconfig"] = upload.read().decode("utf-8", "replace")
        if not (data.get("kubeconfig") or "").strip() and "kubeconfig_file" not in self.errors:
            self.add_error("kubeconfig", _("Paste or upload a kubeconfig."))
        return data

    def kubeconfig_text(self) -> str:
        return self.cleaned_data["kubeconfig"]


class ClusterRegisterForm(KubeconfigMixin):
    cell = forms.ModelChoiceField(label=_("Cell"), queryset=Cell.objects.select_related("zone__region"),
                                  to_field_name="slug")
    name = forms.CharField(label=_("Name"), max_length=100)
    slug = _slug_field()
    labels = LabelsField()
    weight = forms.IntegerField(label=_("Default weight"), min_value=0, max_value=1000, initial=1,
                                help_text=_("Share of replicas it gets relative to other clusters."))

    field_order = ["cell", "name", "slug", "labels", "weight", "kubeconfig", "kubeconfig_file", "probe"]


class ClusterEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    cell = forms.ModelChoiceField(label=_("Cell"), queryset=Cell.objects.select_related("zone__region"),
                                  to_field_name="slug", help_text=_("Moving a cluster re-plans placements."))
    labels = LabelsField()
    weight = forms.IntegerField(label=_("Default weight"), min_value=0, max_value=1000)

    @classmethod
    def for_cluster(cls, cluster: Cluster, data=None):
        return cls(data, initial={"name": cluster.name, "cell": cluster.cell.slug, "labels": cluster.labels,
                                  "weight": cluster.weight})


class CredentialsForm(KubeconfigMixin):
    pass


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000)


class SwitchForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("Recorded in the audit trail and shown to everyone on the cluster pages."))


class BindingForm(forms.Form):
    environment = forms.IntegerField(widget=forms.HiddenInput)
    target = forms.ChoiceField(label=_("Cell or cluster"))

    def __init__(self, *args, cells=(), clusters=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [
            (_("Cells (all their clusters)"), [(f"cell:{c.slug}", f"{c.name} ({c.zone.name})") for c in cells]),
            (_("Single clusters"), [(f"cluster:{c.slug}", f"{c.name} ({c.cell.name})") for c in clusters]),
        ]

    def target_parts(self) -> tuple[str, str]:
        kind, _sep, slug = self.cleaned_data["target"].partition(":")
        return kind, slug


class BindingRequestForm(BindingForm):
    """A tenant's request: which environment, which cell or cluster, and why."""

    environment = forms.TypedChoiceField(label=_("Environment"), coerce=int)
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("Platform operators read this when they decide."))

    def __init__(self, *args, environments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["environment"].choices = [(e.pk, f"{e.tenant.name} / {e.slug}") for e in environments]


class BindingDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    comment = forms.CharField(label=_("Comment"), max_length=2000, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}),
                              help_text=_("Required when rejecting; the tenant reads it."))
