"""Portal forms for federated resources: YAML or JSON in textareas.

The forms only parse documents; what is allowed is decided by the services,
whose DomainError names a field path ("placement.replicaScheduling.weights.x")
that is shown under the textarea it belongs to, and also as a marker at the line
of the submitted YAML it points to (yaml_lines): the textareas carry their
markers in data-diagnostics, which static/js/editor.js shows in the code editor
that replaces them. Without JavaScript the textareas work as they are.
"""
import json

import yaml
from django import forms
from django.utils.translation import gettext_lazy as _

from paas import safeinput
from paas.errors import DomainError

from . import skeletons, yaml_lines
from .models import FederatedType

MONO = {"class": "font-monospace", "spellcheck": "false", "autocapitalize": "none", "data-editor": "yaml"}
DOCUMENT_FIELDS = ("template", "placement", "overrides")


def parse_document(text: str, *, empty, root: str = ""):
    """YAML (JSON is YAML too) -> Python data; `empty` when the text holds nothing.
    Bounded (size, aliases, depth, values: paas.safeinput); `root` prefixes the path of a
    refused value in the message ("template.spec.replicas: ...")."""
    if text is None or not str(text).strip():
        return empty
    try:
        data = safeinput.load_yaml(str(text), root)
    except DomainError as exc:
        error = forms.ValidationError(exc.message)
        error.path = exc.field  # the refused value, for the editor's marker
        raise error from None
    except yaml.YAMLError as exc:
        position = yaml_lines.syntax_position(exc)
        where = _(" (line %(line)s)") % {"line": position[0]} if position else ""
        error = forms.ValidationError(_("Not valid YAML or JSON%(where)s: %(problem)s")
                                      % {"where": where, "problem": getattr(exc, "problem", "") or exc})
        error.position = position  # where the editor marks it
        raise error from None
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
    template = forms.CharField(label=_("Template"),
                               widget=forms.Textarea(attrs={"rows": 18, "data-editor-forms": "workload", **MONO}),
                               help_text=_("The Kubernetes object, in YAML or JSON. The namespace is set for you."))
    placement = forms.CharField(label=_("Placement"), required=False,
                                widget=forms.Textarea(attrs={"rows": 6, **MONO}),
                                help_text=_("Clusters, cells, zones, regions and/or labelSelector; and "
                                            "replicaScheduling (Duplicated, or Divided by weights with min/max)."))
    overrides = forms.CharField(label=_("Overrides"), required=False,
                                widget=forms.Textarea(attrs={"rows": 6, **MONO}),
                                help_text=_("Per-cluster changes: a list of {clusters or clusterSelector, "
                                            "operations: [{op, path, value}]} with JSON-pointer paths."))

    def __init__(self, *args, types=None, creating: bool = True, initial_type=None, **kwargs):
        super().__init__(*args, **kwargs)
        # {field: [{"line", "column", "message"}]}: what the editor marks at a line.
        self.diagnostics: dict[str, list[dict]] = {}
        # Shown in an empty box: the syntax, in the user's language.
        self.fields["placement"].widget.attrs["placeholder"] = skeletons.placement_start()
        self.fields["overrides"].widget.attrs["placeholder"] = skeletons.overrides_start(None)
        if creating:
            self.fields["ftype"].queryset = types if types is not None else FederatedType.objects.none()
            if not self.is_bound:
                self._start_from(initial_type)
        else:
            del self.fields["ftype"]
            del self.fields["name"]

    def _start_from(self, ftype) -> None:
        """A new resource starts from the chosen type's starter, with placement and
        override examples as comments."""
        ftype = ftype or self.fields["ftype"].queryset.filter(kind="Deployment").first() \
            or self.fields["ftype"].queryset.first()
        if ftype is None:
            return
        self.initial.update({"ftype": ftype.pk, "template": skeletons.template_for(ftype),
                             "placement": skeletons.placement_start(),
                             "overrides": skeletons.overrides_start(ftype)})

    def starters(self) -> dict:
        """Starter documents per selectable type, for the create page's type switch."""
        return skeletons.starters(self.fields["ftype"].queryset) if "ftype" in self.fields else {}

    @classmethod
    def for_resource(cls, resource, data=None):
        from .sensitive import shown

        template, overrides = shown(resource)
        initial = {"template": dump_document(template), "placement": dump_document(resource.placement),
                   "overrides": dump_document(overrides)}
        return cls(data, initial=initial, creating=False)

    def _parse(self, name: str, empty):
        text = self.cleaned_data.get(name)
        try:
            return parse_document(text, empty=empty, root=name)
        except forms.ValidationError as error:
            position = getattr(error, "position", None)
            if position:
                self.mark(name, error.messages[0], line=position[0], column=position[1], syntax=True)
            else:
                self.mark(name, error.messages[0], path=getattr(error, "path", "") or name)
            raise

    def clean_template(self):
        data = self._parse("template", {})
        if not isinstance(data, dict) or not data:
            message = _("Give one Kubernetes object (a mapping with apiVersion, kind, metadata).")
            self.mark("template", message, line=1)
            raise forms.ValidationError(message)
        return data

    def clean_placement(self):
        return self._parse("placement", {})

    def clean_overrides(self):
        return self._parse("overrides", [])

    def add_domain_error(self, exc: DomainError) -> None:
        """Show the service's message under the textarea its field path starts with,
        and at the line of that textarea's YAML the path points to."""
        root = (exc.field or "").split(".")[0].split("[")[0]
        field = root if root in self.fields else None
        self.add_error(field, exc.message)
        if field in DOCUMENT_FIELDS:
            self.mark(field, exc.message, path=exc.field)

    def mark(self, field: str, message: str, *, line: int | None = None, column: int | None = None,
             path: str = "", syntax: bool = False) -> None:
        """Record a marker for the editor of `field`: at `line`, or at the line `path`
        points to in the submitted text (line 1 when it points nowhere). `syntax`: a YAML
        syntax error, which the editor also finds itself (it then shows its own)."""
        if line is None:
            text = self.data.get(self.add_prefix(field), "") if self.is_bound else ""
            line = yaml_lines.line_of(str(text), path, root=field) or 1
        self.diagnostics.setdefault(field, []).append(
            {"line": line, "column": column, "message": str(message), "syntax": syntax})
        self.fields[field].widget.attrs["data-diagnostics"] = json.dumps(self.diagnostics[field])


class RegisterCrdForm(forms.Form):
    cluster = forms.ChoiceField(label=_("Cluster"))
    crd = forms.CharField(label=_("CRD name"), max_length=253,
                          help_text=_("The CustomResourceDefinition's name, e.g. widgets.example.com."),
                          widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}))

    def __init__(self, *args, clusters=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].choices = [(c.slug, f"{c.name} ({c.slug})") for c in clusters]
