from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Seed the platform's base images into the built-in registry and build, revision and apply the demo "
            "application (needs web serving the registry and a worker; `make run` runs it once web answers).")

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("Refusing to load demo data in production.")
        from applications.demo import load_demo_delivery

        load_demo_delivery(say=self.stdout.write)
