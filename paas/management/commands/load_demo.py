from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from paas.demo import load_demo


class Command(BaseCommand):
    help = "Create the demo tenants and one account per role (idempotent)."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("Refusing to load demo accounts with well-known passwords in production.")
        load_demo(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
