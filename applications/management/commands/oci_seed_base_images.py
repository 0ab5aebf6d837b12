"""``manage.py oci_seed_base_images --registry URL``: push the platform's base images to a registry."""
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Build the platform's base images (platform/jre:17, distroless-static:1, python:3.12, node:20, "
            "nginx:1.27) locally, with no internet, and push them to a registry.")

    def add_arguments(self, parser):
        parser.add_argument("--registry", required=True,
                            help="registry URL, e.g. http://127.0.0.1:8000 (no scheme: http)")
        parser.add_argument("--username", help="user name for the registry's token service")
        parser.add_argument("--password", help="password or API token (paas_...)")
        parser.add_argument("--namespace", default="platform", help="repository namespace (default: platform)")
        parser.add_argument("--only", action="append", help="only this image (name or name:tag); repeatable")
        parser.add_argument("--record", action="store_true",
                            help="also write the digests into the existing BaseImage rows of the same name and tag")
        parser.add_argument("--secure", action="store_true", help="verify TLS certificates")

    def handle(self, *args, registry, username=None, password=None, namespace="platform", only=None,
               record=False, secure=False, **options):
        from applications.oci.base_images import seed_base_images
        from applications.oci.client import RegistryClient, RegistryError

        verbose = options.get("verbosity", 1) > 1
        client = RegistryClient(registry, username=username, password=password, insecure=not secure)
        try:
            seeded = seed_base_images(client, namespace=namespace, only=only,
                                      log=self.stdout.write if verbose else None)
        except RegistryError as exc:
            raise CommandError(f"{registry}: {exc}") from exc
        for name, tag, digest in seeded:
            self.stdout.write(f"{name}:{tag}  {digest}")
        if record:
            from applications.models import BaseImage

            for name, tag, digest in seeded:
                updated = BaseImage.objects.filter(name=name, tag=tag).exclude(digest=digest).update(digest=digest)
                if updated:
                    self.stdout.write(f"recorded {name}:{tag} = {digest}")
