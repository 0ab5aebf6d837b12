"""Beat job: sign the audit chain's head every minute (settings.CELERY_BEAT_SCHEDULE)."""
from paas.actors import Actor
from paas.tasks import idempotent_task

from .checkpoints import audit_checkpoint_create


@idempotent_task(name="audit.checkpoint")
def checkpoint() -> int | None:
    created = audit_checkpoint_create(actor=Actor.for_system("beat.audit_checkpoint"))
    return created.pk if created is not None else None
