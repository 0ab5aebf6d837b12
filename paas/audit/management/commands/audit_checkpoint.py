"""Sign the audit chain's current head and record it in the database and the sink.

Beat runs the same service every minute (paas.audit.tasks.checkpoint); run this by
hand before and after maintenance, or from cron where beat is not used.
"""
from django.core.management.base import BaseCommand

from paas.actors import Actor
from paas.audit.checkpoints import audit_checkpoint_create


class Command(BaseCommand):
    help = "Record a signed checkpoint of the audit trail (database + outside sink)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Write one even if the head has not moved.")

    def handle(self, *args, force, **options):
        checkpoint = audit_checkpoint_create(actor=Actor.for_system("audit_checkpoint"), force=force)
        if checkpoint is None:
            self.stdout.write("Unchanged: the newest checkpoint already covers the current head.")
        else:
            self.stdout.write(f"Checkpoint #{checkpoint.pk}: {checkpoint.event_count} events up to "
                              f"#{checkpoint.last_event_id}, head {checkpoint.last_hash}")
