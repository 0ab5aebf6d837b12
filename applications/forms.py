"""Forms of the application pages. They only turn what people type into the dicts the services
take ("NAME=value" lines, "name port protocol" lines, YAML); every rule is the services' (a
DomainError lands on the field its path names)."""
from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clusters.federation.forms import dump_document, parse_document
from paas.errors import DomainError

from .models import ENVIRONMENT_KINDS, Component, Stack

MONO = {"class": "font-monospace", "spellcheck": "false", "autocapitalize": "none"}
PROBE_TYPES = [("", gettext_lazy("None")), ("http", gettext_lazy("HTTP GET")), ("tcp", gettext_lazy("TCP socket")),
               ("exec", gettext_lazy("Command"))]
RESOURCE_FIELDS = {("requests", "cpu"): "cpu_request", ("limits", "cpu"): "cpu_limit",
                   ("requests", "memory"): "memory_request", ("limits", "memory"): "memory_limit",
                   ("requests", "ephemeral-storage"): "ephemeral_request",
                   ("limits", "ephemeral-storage"): "ephemeral_limit"}


class DomainErrorsMixin:
    #: service field path root -> form field
    field_map: dict = {}

    def form_field_for(self, path: str | None) -> str | None:
        if not path:
            return None
        root = path.split(".")[0].split("[")[0]
        for prefix, name in self.field_map.items():
            if path.startswith(prefix):
                return name
        return root if root in self.fields else None

    def add_domain_error(self, exc: DomainError) -> None:
        self.add_error(self.form_field_for(exc.field), exc.message)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _pairs(text: str) -> list[tuple[str, str]]:
    out = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        if "=" not in line:
            raise forms.ValidationError(_("Line %(n)s: write NAME=value.") % {"n": number})
        name, value = line.split("=", 1)
        out.append((name.strip(), value))
    return out


class ApplicationForm(DomainErrorsMixin, forms.Form):
    tenant = forms.ChoiceField(label=gettext_lazy("Tenant"))
    name = forms.CharField(label=gettext_lazy("Name"), max_length=40, widget=forms.TextInput(attrs=MONO),
                           help_text=gettext_lazy("Lowercase letters, digits and dashes; it names the image "
                                                  "repository and the Kubernetes objects and cannot change."))
    description = forms.CharField(label=gettext_lazy("Description"), required=False, max_length=2000,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    team = forms.CharField(label=gettext_lazy("Owning team"), required=False, max_length=100)
    repository_url = forms.CharField(label=gettext_lazy("Source repository"), required=False, max_length=500,
                                     help_text=gettext_lazy("e.g. https://git.example.com/payments/api"))
    stack = forms.ChoiceField(label=gettext_lazy("Language stack"), choices=Stack.choices, initial=Stack.OTHER)
    labels = forms.CharField(label=gettext_lazy("Labels"), required=False,
                             widget=forms.Textarea(attrs={"rows": 3, **MONO}),
                             help_text=gettext_lazy("YAML, e.g. tier: critical"))

    def __init__(self, *args, tenants=None, application=None, **kwargs):
        super().__init__(*args, **kwargs)
        if application is not None:
            del self.fields["tenant"]
            del self.fields["name"]
        else:
            self.fields["tenant"].choices = [(t.slug, t.name) for t in tenants or ()]

    @classmethod
    def for_application(cls, application, data=None):
        initial = {"description": application.description, "team": application.team,
                   "repository_url": application.repository_url, "stack": application.stack,
                   "labels": dump_document(application.labels)}
        return cls(data, initial=initial, application=application)

    def clean_labels(self):
        value = parse_document(self.cleaned_data.get("labels"), empty={}, root="labels")
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Write a YAML map of names to values."))
        return {str(k): "" if v is None else str(v) for k, v in value.items()}


class ComponentForm(DomainErrorsMixin, forms.Form):
    field_map = {"resources.requests.cpu": "cpu_request", "resources.limits.cpu": "cpu_limit",
                 "resources.requests.memory": "memory_request", "resources.limits.memory": "memory_limit",
                 "resources.requests.ephemeral-storage": "ephemeral_request",
                 "resources.limits.ephemeral-storage": "ephemeral_limit", "resources": "cpu_request",
                 "liveness_probe.path": "liveness_path", "liveness_probe.command": "liveness_command",
                 "liveness_probe": "liveness_port", "readiness_probe.path": "readiness_path",
                 "readiness_probe.command": "readiness_command", "readiness_probe": "readiness_port",
                 "secret_env": "secret_env_set", **{f"replicas.{k}": f"replicas_{k}" for k in ENVIRONMENT_KINDS}}

    name = forms.CharField(label=gettext_lazy("Name"), max_length=40, widget=forms.TextInput(attrs=MONO))
    workload_kind = forms.ChoiceField(label=gettext_lazy("Workload kind"), choices=Component.WorkloadKind.choices)
    image = forms.CharField(label=gettext_lazy("Image"), max_length=500, widget=forms.TextInput(attrs=MONO),
                            help_text=gettext_lazy("acme/payments-api:1.4 (the built-in registry) or "
                                                   "registry.example.com/team/api:1.4; a revision pins it to its "
                                                   "digest."))
    command = forms.CharField(label=gettext_lazy("Command"), required=False,
                              widget=forms.Textarea(attrs={"rows": 2, **MONO}),
                              help_text=gettext_lazy("One argument per line; empty keeps the image's entrypoint."))
    args = forms.CharField(label=gettext_lazy("Arguments"), required=False,
                           widget=forms.Textarea(attrs={"rows": 2, **MONO}), help_text=gettext_lazy("One per line."))
    ports = forms.CharField(label=gettext_lazy("Ports"), required=False,
                            widget=forms.Textarea(attrs={"rows": 2, **MONO}),
                            help_text=gettext_lazy("One per line: name port [protocol], e.g. http 8080 TCP. A "
                                                   "Service is created for them."))
    env = forms.CharField(label=gettext_lazy("Environment variables"), required=False,
                          widget=forms.Textarea(attrs={"rows": 3, **MONO}), help_text=gettext_lazy("NAME=value lines."))
    secret_env_set = forms.CharField(label=gettext_lazy("Set secret variables"), required=False,
                                     widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "off", **MONO}),
                                     help_text=gettext_lazy("NAME=value lines: added or replaced. Values are stored "
                                                            "encrypted and never shown again."))
    secret_env_remove = forms.MultipleChoiceField(label=gettext_lazy("Remove secret variables"), required=False,
                                                  widget=forms.CheckboxSelectMultiple)
    config_files = forms.CharField(label=gettext_lazy("Config files"), required=False,
                                   widget=forms.Textarea(attrs={"rows": 5, **MONO}),
                                   help_text=gettext_lazy("YAML list of path and content; mounted from a ConfigMap "
                                                          "at each path."))
    cpu_request = forms.CharField(label=gettext_lazy("CPU request"), required=False, max_length=20)
    cpu_limit = forms.CharField(label=gettext_lazy("CPU limit"), required=False, max_length=20)
    memory_request = forms.CharField(label=gettext_lazy("Memory request"), required=False, max_length=20)
    memory_limit = forms.CharField(label=gettext_lazy("Memory limit"), required=False, max_length=20)
    ephemeral_request = forms.CharField(label=gettext_lazy("Ephemeral storage request"), required=False,
                                        max_length=20)
    ephemeral_limit = forms.CharField(label=gettext_lazy("Ephemeral storage limit"), required=False, max_length=20)
    cpuset_cores = forms.IntegerField(label=gettext_lazy("Exclusive cpuset cores"), min_value=0, max_value=256,
                                      initial=0, help_text=gettext_lazy(
                                          "Whole cores pinned to the container (guaranteed QoS); 0 for shared cores."))

    def __init__(self, *args, secret_names=(), creating=True, **kwargs):
        super().__init__(*args, **kwargs)
        for probe in ("liveness", "readiness"):
            self.fields[f"{probe}_type"] = forms.ChoiceField(label=gettext_lazy("Type"), choices=PROBE_TYPES,
                                                             required=False)
            self.fields[f"{probe}_path"] = forms.CharField(label=gettext_lazy("HTTP path"), required=False,
                                                           max_length=1000)
            self.fields[f"{probe}_port"] = forms.CharField(label=gettext_lazy("Port (number or name)"),
                                                           required=False, max_length=15)
            self.fields[f"{probe}_command"] = forms.CharField(label=gettext_lazy("Command (one per line)"),
                                                              required=False, widget=forms.Textarea(
                                                                  attrs={"rows": 2, **MONO}))
            self.fields[f"{probe}_initial_delay_seconds"] = forms.IntegerField(
                label=gettext_lazy("Initial delay (s)"), required=False, min_value=0, max_value=3600)
            self.fields[f"{probe}_period_seconds"] = forms.IntegerField(
                label=gettext_lazy("Period (s)"), required=False, min_value=1, max_value=3600)
        for kind in ENVIRONMENT_KINDS:
            self.fields[f"replicas_{kind}"] = forms.IntegerField(label=kind, min_value=0, max_value=10000,
                                                                 initial=1 if kind in ("dev", "test") else 2)
        self.fields["secret_env_remove"].choices = [(n, n) for n in secret_names]
        if not secret_names:
            del self.fields["secret_env_remove"]
        if not creating:
            self.fields["name"].disabled = True

    @classmethod
    def for_component(cls, component, data=None):
        initial = {"name": component.name, "workload_kind": component.workload_kind, "image": component.image,
                   "command": "\n".join(component.command), "args": "\n".join(component.args),
                   "ports": "\n".join(f"{p['name']} {p['port']} {p['protocol']}" for p in component.ports),
                   "env": "\n".join(f"{e['name']}={e['value']}" for e in component.env),
                   "config_files": dump_document(component.config_files), "cpuset_cores": component.cpuset_cores}
        for (part, resource), field in RESOURCE_FIELDS.items():
            initial[field] = (component.resources.get(part) or {}).get(resource, "")
        for probe in ("liveness", "readiness"):
            settings = getattr(component, f"{probe}_probe") or {}
            initial[f"{probe}_type"] = settings.get("type", "")
            initial[f"{probe}_path"] = settings.get("path", "")
            initial[f"{probe}_port"] = settings.get("port", "")
            initial[f"{probe}_command"] = "\n".join(settings.get("command", []))
            initial[f"{probe}_initial_delay_seconds"] = settings.get("initial_delay_seconds")
            initial[f"{probe}_period_seconds"] = settings.get("period_seconds")
        for kind in ENVIRONMENT_KINDS:
            initial[f"replicas_{kind}"] = component.replicas.get(kind, 1)
        return cls(data, initial=initial, secret_names=component.secret_env_names, creating=False)

    def clean_ports(self):
        ports = []
        for number, line in enumerate(_lines(self.cleaned_data.get("ports")), start=1):
            parts = line.split()
            if len(parts) not in (2, 3) or not parts[1].isdigit():
                raise forms.ValidationError(_("Line %(n)s: write name port [protocol], e.g. http 8080 TCP.")
                                            % {"n": number})
            port = {"name": parts[0], "port": int(parts[1])}
            if len(parts) == 3:
                port["protocol"] = parts[2].upper()
            ports.append(port)
        return ports

    def clean_env(self):
        return [{"name": n, "value": v} for n, v in _pairs(self.cleaned_data.get("env"))]

    def clean_secret_env_set(self):
        return dict(_pairs(self.cleaned_data.get("secret_env_set")))

    def clean_config_files(self):
        value = parse_document(self.cleaned_data.get("config_files"), empty=[], root="config_files")
        if not isinstance(value, list):
            raise forms.ValidationError(_("Write a YAML list of items with path and content."))
        return value

    def _probe(self, probe: str) -> dict:
        data = self.cleaned_data
        kind = data.get(f"{probe}_type")
        if not kind:
            return {}
        out = {"type": kind}
        port = (data.get(f"{probe}_port") or "").strip()
        if kind in ("http", "tcp"):
            out["port"] = int(port) if port.isdigit() else port
        if kind == "http":
            out["path"] = data.get(f"{probe}_path") or "/"
        if kind == "exec":
            out["command"] = _lines(data.get(f"{probe}_command"))
        for key in ("initial_delay_seconds", "period_seconds"):
            if data.get(f"{probe}_{key}") is not None:
                out[key] = data[f"{probe}_{key}"]
        return out

    def service_data(self, stored_secret_names=()) -> dict:
        """The dict component_create/component_update take."""
        data = self.cleaned_data
        resources: dict = {}
        for (part, resource), field in RESOURCE_FIELDS.items():
            if data.get(field, "").strip():
                resources.setdefault(part, {})[resource] = data[field].strip()
        out = {"name": data["name"], "workload_kind": data["workload_kind"], "image": data["image"],
               "command": _lines(data.get("command")), "args": _lines(data.get("args")), "ports": data["ports"],
               "env": data["env"], "config_files": data["config_files"], "resources": resources,
               "cpuset_cores": data.get("cpuset_cores") or 0, "liveness_probe": self._probe("liveness"),
               "readiness_probe": self._probe("readiness"),
               "replicas": {kind: data[f"replicas_{kind}"] for kind in ENVIRONMENT_KINDS}}
        removed = set(data.get("secret_env_remove") or ())
        given = data.get("secret_env_set") or {}
        if given or removed:
            secrets = {name: None for name in stored_secret_names if name not in removed}
            secrets.update(given)
            out["secret_env"] = secrets
        return out


class PlacementForm(DomainErrorsMixin, forms.Form):
    placement = forms.CharField(label=gettext_lazy("Placement"), required=False,
                                widget=forms.Textarea(attrs={"rows": 8, **MONO}),
                                help_text=gettext_lazy(
                                    "YAML: cells, zones, regions and/or clusters (none: every bound cluster), and "
                                    "replicaScheduling: Duplicated (each cluster runs the replicas) or Divided "
                                    "with weights (the replicas are the total)."))

    def clean_placement(self):
        value = parse_document(self.cleaned_data.get("placement"), empty={}, root="placement")
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Write a YAML map."))
        return value


class RevisionForm(DomainErrorsMixin, forms.Form):
    field_map = {"components": "__all__", "quota": "__all__"}

    environment = forms.ChoiceField(label=gettext_lazy("Environment"))
    comment = forms.CharField(label=gettext_lazy("Comment"), required=False, max_length=200)

    def __init__(self, *args, environments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["environment"].choices = [(e.slug, f"{e.name} ({e.kind})") for e in environments]

    def form_field_for(self, path):
        field = super().form_field_for(path)
        return None if field == "__all__" else field


class DependencyForm(forms.Form):
    depends_on = forms.ChoiceField(label=gettext_lazy("Needs"))

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["depends_on"].choices = [(str(a.pk), a.name) for a in candidates]
