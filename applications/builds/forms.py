"""Forms of the build pages: start a build (Dockerfile version, artifact, tag) and upload an
artifact (the upload itself is parsed by uploads.HashingUploadHandler)."""
from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications.models import DockerfileVersion

from .services import TAG


def _dockerfile_label(version: DockerfileVersion) -> str:
    status = {DockerfileVersion.LintStatus.OK: _("lint clean"),
              DockerfileVersion.LintStatus.WARNINGS: _("lint warnings"),
              DockerfileVersion.LintStatus.ERRORS: _("lint errors: cannot be built")}[version.lint_status]
    comment = f" · {version.comment}" if version.comment else ""
    return f"v{version.number} — {status}{comment}"


def _size(n: int) -> str:
    from django.template.defaultfilters import filesizeformat

    return filesizeformat(n)


class BuildStartForm(forms.Form):
    dockerfile = forms.TypedChoiceField(label=gettext_lazy("Dockerfile version"), coerce=int)
    artifact = forms.TypedChoiceField(label=gettext_lazy("Artifact"), coerce=int, required=False, empty_value=None,
                                      help_text=gettext_lazy("Upload a new one below, or choose an earlier upload."))
    registry = forms.ChoiceField(label=gettext_lazy("Registry"), required=False,
                                 help_text=gettext_lazy("Where the image is pushed."))
    tag = forms.RegexField(label=gettext_lazy("Image tag"), regex=TAG, max_length=128,
                           error_messages={"invalid": gettext_lazy(
                               "Use 1-128 letters, digits, '_', '.' and '-', not starting with '.' or '-'.")},
                           help_text=gettext_lazy("e.g. 1.4.2"))

    def __init__(self, *args, dockerfiles, artifacts, registries=(), builtin_host="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["registry"].choices = [("", _("Built-in registry (%(host)s)") % {"host": builtin_host})] + [
            (str(r.pk), f"{r.name} ({r.host})" + ("" if r.tenant_id else " · " + _("platform-wide")))
            for r in registries]
        self.dockerfiles = list(dockerfiles)
        self.fields["dockerfile"].choices = [(v.number, _dockerfile_label(v)) for v in self.dockerfiles]
        self.fields["artifact"].choices = [("", _("No artifact"))] + [
            (a.pk, f"{a.filename} · {_size(a.size)} · sha256:{a.sha256[:12]} · {a.created_at:%Y-%m-%d %H:%M}")
            for a in artifacts]
        buildable = [v for v in self.dockerfiles if v.buildable]
        if buildable and not self.is_bound:
            self.initial.setdefault("dockerfile", buildable[0].number)

    def dockerfile_version(self):
        number = self.cleaned_data["dockerfile"]
        return next((v for v in self.dockerfiles if v.number == number), None)


class ArtifactUploadForm(forms.Form):
    """Only for rendering: the view reads the file through its own upload handler."""

    checksum = forms.CharField(label=gettext_lazy("Expected SHA-256 (optional)"), required=False, max_length=71,
                               help_text=gettext_lazy("If given, an upload whose SHA-256 differs is refused as "
                                                      "corrupt."))
    file = forms.FileField(label=gettext_lazy("Artifact file"))
