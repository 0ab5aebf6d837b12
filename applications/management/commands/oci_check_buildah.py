"""``manage.py oci_check_buildah``: can this machine build with BUILDER=buildah?"""
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Check that buildah can build here (vfs storage, chroot isolation): from scratch, a Dockerfile "
            "without RUN and one with RUN. Nothing is pushed and nothing is left behind.")

    def handle(self, *args, **options):
        from applications.oci import buildah

        results = buildah.check(log=lambda line: None)
        for command, ok, message in results:
            self.stdout.write(f"{'ok  ' if ok else 'FAIL'} buildah {command.split(' /')[0]}: {message}")
        if not all(ok for _, ok, _ in results):
            raise CommandError("buildah cannot build on this machine; keep BUILDER=native")
        self.stdout.write(self.style.SUCCESS("buildah works here: BUILDER=buildah can be used."))
