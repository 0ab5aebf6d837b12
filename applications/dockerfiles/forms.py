"""Page forms: the editor's save form and the stack template form.

The template form turns its text inputs into the typed values templates.validate() checks
(ports "8080, 8443" -> [8080, 8443], env lines "NAME=value" -> pairs), and maps the template's
field errors back onto its own fields.
"""
import shlex

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from paas.errors import DomainError

from . import healthcheck, lint, parse, templates
from .services import MAX_COMMENT


class SaveForm(forms.Form):
    content = forms.CharField(label=gettext_lazy("Dockerfile"), required=False, strip=False,
                              widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false",
                                                           "data-editor": "dockerfile",
                                                           "class": "font-monospace"}))
    comment = forms.CharField(label=gettext_lazy("Comment"), required=False, max_length=MAX_COMMENT,
                              widget=forms.TextInput(attrs={"placeholder": gettext_lazy("What changed, and why")}))

    def clean_content(self):
        content = self.cleaned_data["content"]
        if len(content.encode("utf-8", "surrogatepass")) > parse.MAX_BYTES:
            raise forms.ValidationError(_("The Dockerfile is larger than %(n)s KiB.") % {"n": parse.MAX_BYTES // 1024})
        return content

    def add_domain_error(self, exc: DomainError) -> None:
        self.add_error(exc.field if exc.field in self.fields else None, exc.message)


class LintForm(forms.Form):
    content = forms.CharField(required=False, strip=False, max_length=parse.MAX_BYTES)
    environment_kind = forms.ChoiceField(choices=[(k, k) for k in lint.ENVIRONMENT_KINDS], required=False)


def _ports(text: str) -> list[int]:
    ports = []
    for word in text.replace(",", " ").split():
        if not word.isdigit() or len(word) > 5:
            raise forms.ValidationError(_("Port numbers separated by commas, e.g. 8080, 8443."))
        ports.append(int(word))
    return ports


def _env(text: str) -> list[dict]:
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise forms.ValidationError(_("Line %(n)s: write NAME=value.") % {"n": number})
        pairs.append({"name": name.strip(), "value": value})
    return pairs


class TemplateForm(forms.Form):
    """The form of one stack; its fields follow templates.SPECS[stack]."""

    base_image = forms.ChoiceField(label=gettext_lazy("Base image"))
    artifact = forms.CharField(label=gettext_lazy("Artifact file name"), max_length=128)
    ports = forms.CharField(label=gettext_lazy("Ports"), required=False, max_length=100,
                            help_text=gettext_lazy("Separated by commas; 1024 or above (the user is not root)."))
    user = forms.CharField(label=gettext_lazy("User"), max_length=65, initial=templates.DEFAULT_USER,
                           help_text=gettext_lazy("A non-root uid (or uid:gid) the container runs as."))
    health_kind = forms.ChoiceField(label=gettext_lazy("Health check"),
                                    choices=[("http", gettext_lazy("HTTP request")),
                                             ("command", gettext_lazy("Command")),
                                             ("none", gettext_lazy("None (probes only)"))])
    health_path = forms.CharField(label=gettext_lazy("HTTP path"), required=False, max_length=200)
    health_port = forms.IntegerField(label=gettext_lazy("HTTP port"), required=False, min_value=1,
                                     max_value=65535, help_text=gettext_lazy("Empty: the first port."))
    health_interval = forms.IntegerField(label=gettext_lazy("Interval (seconds)"), min_value=5, max_value=3600,
                                         initial=30)
    health_command = forms.CharField(label=gettext_lazy("Command"), required=False, max_length=2000,
                                     help_text=gettext_lazy("Words as a shell would split them, e.g. "
                                                            "/app/app -healthcheck"))
    env = forms.CharField(label=gettext_lazy("Extra environment"), required=False, max_length=20000,
                          widget=forms.Textarea(attrs={"rows": 3, "class": "font-monospace",
                                                       "placeholder": "LOG_LEVEL=info"}),
                          help_text=gettext_lazy("One NAME=value per line."))
    comment = forms.CharField(label=gettext_lazy("Comment"), required=False, max_length=MAX_COMMENT)

    EXTRA = {
        "jvm_options": lambda: forms.CharField(label=gettext_lazy("JVM options (JAVA_TOOL_OPTIONS)"), required=False,
                                               max_length=1000),
        "gomaxprocs": lambda: forms.IntegerField(label="GOMAXPROCS", required=False, min_value=1, max_value=1024),
        "gomemlimit": lambda: forms.CharField(label="GOMEMLIMIT", required=False, max_length=20),
        "gogc": lambda: forms.CharField(label="GOGC", required=False, max_length=10),
        "module": lambda: forms.CharField(label=gettext_lazy("Module to run (python -m)"), max_length=200),
        "python_optimize": lambda: forms.TypedChoiceField(label="PYTHONOPTIMIZE", coerce=int,
                                                          choices=[(0, "0"), (1, "1"), (2, "2")]),
        "main": lambda: forms.CharField(label=gettext_lazy("Main script (archives)"), max_length=200),
        "node_options": lambda: forms.CharField(label="NODE_OPTIONS", required=False, max_length=1000),
    }

    def __init__(self, *args, stack: str, base_images: list[str], **kwargs):
        self.stack = stack
        described = {f["name"]: f for f in templates.fields_for(stack, base_images)}
        initial = self.initial_for(described)
        super().__init__(*args, initial={**initial, **kwargs.pop("initial", {})}, **kwargs)
        self.fields["base_image"].choices = [(b, b) for b in base_images]
        self.fields["artifact"].help_text = described["artifact"]["help"]
        if stack not in healthcheck.HTTP_STACKS:
            self.fields["health_kind"].choices = [c for c in self.fields["health_kind"].choices if c[0] != "http"]
        self.extra_names = [f.name for f in templates.SPECS[stack].extra]
        for name in self.extra_names:
            self.fields[name] = self.EXTRA[name]()
            self.fields[name].help_text = described[name]["help"]
        self.order_fields(["base_image", "artifact", "ports", *self.extra_names, "user"])

    @staticmethod
    def initial_for(described: dict) -> dict:
        health = described["healthcheck"]["default"] or {"kind": "none"}
        initial = {"base_image": described["base_image"]["default"], "artifact": described["artifact"]["default"],
                   "ports": ", ".join(str(p) for p in described["ports"]["default"]), "user": templates.DEFAULT_USER,
                   "health_kind": health["kind"], "health_path": health.get("path", ""),
                   "health_port": health.get("port"), "health_interval": health.get("interval", 30)}
        for name, entry in described.items():
            if name not in initial and name not in ("healthcheck", "env"):
                initial[name] = entry["default"]
        return initial

    def clean_ports(self):
        return _ports(self.cleaned_data["ports"])

    def clean_env(self):
        return _env(self.cleaned_data["env"])

    def clean_health_command(self):
        try:
            return shlex.split(self.cleaned_data["health_command"])
        except ValueError:
            raise forms.ValidationError(_("Unbalanced quotes.")) from None

    def template_values(self) -> dict:
        """The typed form values templates.validate() takes."""
        data = self.cleaned_data
        kind = data["health_kind"]
        if kind == "http":
            health = {"kind": "http", "path": data["health_path"] or "/", "port": data["health_port"],
                      "interval": data["health_interval"]}
        elif kind == "command":
            health = {"kind": "command", "command": data["health_command"], "interval": data["health_interval"]}
        else:
            health = {"kind": "none"}
        values = {"base_image": data["base_image"], "artifact": data["artifact"], "ports": data["ports"],
                  "user": data["user"], "healthcheck": health, "env": data["env"]}
        for name in self.extra_names:
            value = data.get(name)
            values[name] = "" if value is None and name != "gomaxprocs" else value
        return values

    def add_template_errors(self, errors: dict) -> None:
        for name, messages in errors.items():
            target = "health_kind" if name == "healthcheck" else name
            for message in messages:
                self.add_error(target if target in self.fields else None, message)
