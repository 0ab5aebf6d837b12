from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = _("Applications")

    def ready(self):
        from clusters.federation import ownership
        from paas.web.search import SearchProvider, register

        from .selectors import find_applications, instance_owning

        # Federation refuses direct changes to what an instance deployed (clusters/federation/ownership.py).
        ownership.register(instance_owning)
        register(SearchProvider("application", _("Applications"), "boxes", find_applications))
