"""Put the platform's default base images on the allowed list (those missing; idempotent)."""
from django.core.management.base import BaseCommand

from paas.actors import Actor

from ...services import base_images_ensure


class Command(BaseCommand):
    help = "Add the default base images (platform/jre:17, ...) to the allowed list where missing."

    def handle(self, *args, **options):
        created = base_images_ensure(actor=Actor.for_system("dockerfile_base_images"))
        for image in created:
            self.stdout.write(f"added {image.reference} ({image.stack})")
        self.stdout.write(f"{len(created)} added; the allowed list is complete.")
