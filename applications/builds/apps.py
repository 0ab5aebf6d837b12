from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BuildsConfig(AppConfig):
    name = "applications.builds"
    label = "builds"
    verbose_name = _("Builds")
