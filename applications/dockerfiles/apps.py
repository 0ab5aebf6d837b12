from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DockerfilesConfig(AppConfig):
    """No models of its own (BaseImage and DockerfileVersion live in `applications`): an app so
    that its admin and management command are found."""

    name = "applications.dockerfiles"
    label = "dockerfiles"
    verbose_name = _("Dockerfiles")
