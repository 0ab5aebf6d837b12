"""Portal forms for federated resources: YAML or JSON in textareas.

The forms only parse documents; what is allowed is decided by the services,
whose DomainError names a field path ("placement.replicaScheduling.weights.x")
that is shown under the textarea it belongs to.
"""
import yaml
from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from paas import safeinput
from paas.errors import DomainError

from .models import FederatedType

# Placeholders: the prose is translated, the YAML around it is not (it is what one types).
EXAMPLE_PLACEMENT = format_lazy(
    "# {}\n# cells: [cell-a]\n"
    "# replicaScheduling: {{type: Divided, totalReplicas: 6, weights: {{cell-a: 2, cell-b: 1}}}}\n",
    _("Leave empty to place on every cluster bound to this environment."),
)
EXAMPLE_OVERRIDES = format_lazy(
    "# {}\n# - clusters: [my-cluster]\n#   operations:\n"
    "#   - {{op: replace, path: /spec/template/spec/containers/0/image, value: \"nginx:1.27\"}}\n",
    _("Leave empty to apply the template unchanged everywhere. For example, another image on one cluster:"),
)
MONO = {"class": "font-monospace", "spellcheck": "false", "autocapitalize": "none"}


def parse_document(text: str, *, empty, root: str = ""):
    """YAML (JSON is YAML too) -> Python data; `empty` when the text holds nothing.
    Bounded (size, aliases, depth, values: paas.safeinput); `root` prefixes the path of a
    refused value in the message ("template.spec.replicas: ...")."""
    if text is None or not str(text).strip():
        return empty
    try:
        data = safeinput.load_yaml(str(text), root)
    except DomainError as exc:
        raise forms.ValidationError(exc.message) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _(" (line %(line)s)") % {"line": mark.line + 1} if mark else ""
        raise forms.ValidationError(_("Not valid YAML or JSON%(where)s: %(problem)s")
                                    % {"where": where, "problem": getattr(exc, "problem", "") or exc}) from None
    return empty if data is None else data


class _PlainDumper(yaml.SafeDumper):
    """No &anchors/*aliases for repeated values: people read and edit this YAML."""

    def ignore_aliases(self, data):
        return True


def dump_document(data, *, sort_keys: bool = False) -> str:
    if data in (None, {}, []):
        return ""
    return yaml.dump(data, Dumper=_PlainDumper, sort_keys=sort_keys, default_flow_style=False, allow_unicode=True)


class FederatedResourceForm(forms.Form):
    ftype = forms.ModelChoiceField(label=_("Type"), queryset=FederatedType.objects.none(),
                                   help_text=_("The Kubernetes kind to federate."))
    name = forms.CharField(label=_("Name"), max_length=253, required=False,
                           help_text=_("Defaults to metadata.name of the template."),
                           widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}))
    template = forms.CharField(label=_("Template"), widget=forms.Textarea(attrs={"rows": 18, **MONO}),
                               help_text=_("The Kubernetes object, in YAML or JSON. The namespace is set for you."))
    placement = forms.CharField(label=_("Placement"), required=False,
                                widget=forms.Textarea(attrs={"rows": 6, "placeholder": EXAMPLE_PLACEMENT, **MONO}),
                                help_text=_("Clusters, cells, zones, regions and/or labelSelector; and "
                                            "replicaScheduling (Duplicated, or Divided by weights with min/max)."))
    overrides = forms.CharField(label=_("Overrides"), required=False,
                                widget=forms.Textarea(attrs={"rows": 6, "placeholder": EXAMPLE_OVERRIDES, **MONO}),
                                help_text=_("Per-cluster changes: a list of {clusters or clusterSelector, "
                                            "operations: [{op, path, value}]} with JSON-pointer paths."))

    def __init__(self, *args, types=None, creating: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if creating:
            self.fields["ftype"].queryset = types if types is not None else FederatedType.objects.none()
        else:
            del self.fields["ftype"]
            del self.fields["name"]

    @classmethod
    def for_resource(cls, resource, data=None):
        from .sensitive import shown

        template, overrides = shown(resource)
        initial = {"template": dump_document(template), "placement": dump_document(resource.placement),
                   "overrides": dump_document(overrides)}
        return cls(data, initial=initial, creating=False)

    def clean_template(self):
        data = parse_document(self.cleaned_data.get("template"), empty={}, root="template")
        if not isinstance(data, dict) or not data:
            raise forms.ValidationError(_("Give one Kubernetes object (a mapping with apiVersion, kind, metadata)."))
        return data

    def clean_placement(self):
        return parse_document(self.cleaned_data.get("placement"), empty={}, root="placement")

    def clean_overrides(self):
        return parse_document(self.cleaned_data.get("overrides"), empty=[], root="overrides")

    def add_domain_error(self, exc: DomainError) -> None:
        """Show the service's message under the textarea its field path starts with."""
        root = (exc.field or "").split(".")[0].split("[")[0]
        self.add_error(root if root in self.fields else None, exc.message)


class RegisterCrdForm(forms.Form):
    cluster = forms.ChoiceField(label=_("Cluster"))
    crd = forms.CharField(label=_("CRD name"), max_length=253,
                          help_text=_("The CustomResourceDefinition's name, e.g. widgets.example.com."),
                          widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}))

    def __init__(self, *args, clusters=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].choices = [(c.slug, f"{c.name} ({c.slug})") for c in clusters]
