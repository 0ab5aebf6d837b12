from django.apps import AppConfig


class PaasConfig(AppConfig):
    name = "paas"
    verbose_name = "Platform core"

    def ready(self):
        from paas.realtime import signals

        signals.connect()
