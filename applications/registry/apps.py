from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "applications.registry"
    label = "registry"
    verbose_name = _("Image registry")

    def ready(self):
        from . import search

        search.install()
